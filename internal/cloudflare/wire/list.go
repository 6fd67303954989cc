package wire

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// MaxBodyBytes is the largest request body read.
const MaxBodyBytes = 1 << 20

// ErrNoBody is ReadBody's error for an empty body.
var ErrNoBody = errors.New("empty body")

// ReadBody reads a request body of at most MaxBodyBytes.
func ReadBody(r *http.Request) ([]byte, error) { return ReadBodyMax(r, MaxBodyBytes) }

// ReadBodyMax reads a request body of at most limit bytes.
func ReadBodyMax(r *http.Request, limit int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, fmt.Errorf("body larger than %d bytes", limit)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, ErrNoBody
	}
	return b, nil
}

// SortRecords orders a record list by Cloudflare's order and direction
// parameters.
func SortRecords(recs []*Record, order, direction string) {
	key := func(r *Record) []string {
		switch order {
		case "name":
			return []string{r.Name, r.Type, r.Content}
		case "content":
			return []string{r.Content, r.Name, r.Type}
		case "ttl":
			return []string{fmt.Sprintf("%06d", r.TTL), r.Type, r.Name, r.Content}
		case "proxied":
			return []string{strconv.FormatBool(r.Proxied), r.Type, r.Name, r.Content}
		}
		return []string{r.Type, r.Name, r.Content}
	}
	sort.SliceStable(recs, func(i, j int) bool {
		a, b := key(recs[i]), key(recs[j])
		for k := range a {
			if a[k] != b[k] {
				return a[k] < b[k]
			}
		}
		return recs[i].ID < recs[j].ID
	})
	if direction == "desc" {
		for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
			recs[i], recs[j] = recs[j], recs[i]
		}
	}
}

// Paginate answers Cloudflare's page/per_page: per_page is clamped to
// [min, max], pages start at 1, a page past the end is empty.
func Paginate(q url.Values, n, def, min, max int) (lo, hi int, info ResultInfo) {
	num := func(key string, d int) int {
		v, err := strconv.ParseFloat(q.Get(key), 64)
		if err != nil || math.IsNaN(v) || v < 1 {
			return d
		}
		if v > math.MaxInt32 {
			return math.MaxInt32
		}
		return int(v)
	}
	per := num("per_page", def)
	if per < min {
		per = min
	}
	if per > max {
		per = max
	}
	page := num("page", 1)
	lo = (page - 1) * per
	if lo > n || lo < 0 {
		lo = n
	}
	hi = lo + per
	if hi > n {
		hi = n
	}
	return lo, hi, ResultInfo{
		Page: page, PerPage: per, Count: hi - lo, TotalCount: n,
		TotalPages: (n + per - 1) / per,
	}
}

// CompileRecordFilters reads the list filters cloudflare-go v7 sends
// (name.exact, comment.startswith, …), the legacy exact forms (name=,
// content=, comment=), type, proxied and match=any|all.
func CompileRecordFilters(q url.Values) (func(*Record) bool, *Failure) {
	var preds []func(*Record) bool
	str := func(field string, get func(*Record) string, norm func(string) string) {
		for _, op := range []string{"", "exact", "contains", "startswith", "endswith"} {
			key := field
			if op != "" {
				key += "." + op
			}
			if !q.Has(key) {
				continue
			}
			want := strings.ToLower(norm(q.Get(key)))
			preds = append(preds, func(r *Record) bool {
				got := strings.ToLower(get(r))
				switch op {
				case "contains":
					return strings.Contains(got, want)
				case "startswith":
					return strings.HasPrefix(got, want)
				case "endswith":
					return strings.HasSuffix(got, want)
				}
				return got == want
			})
		}
	}
	trimDot := func(s string) string { return strings.TrimSuffix(strings.TrimSpace(s), ".") }
	same := func(s string) string { return s }
	str("name", func(r *Record) string { return r.Name }, trimDot)
	str("content", func(r *Record) string { return r.Content }, same)
	str("comment", func(r *Record) string { return r.Comment }, same)
	if q.Has("comment.present") {
		preds = append(preds, func(r *Record) bool { return r.Comment != "" })
	}
	if q.Has("comment.absent") {
		preds = append(preds, func(r *Record) bool { return r.Comment == "" })
	}
	if q.Has("type") {
		want := strings.ToUpper(q.Get("type"))
		preds = append(preds, func(r *Record) bool { return r.Type == want })
	}
	if q.Has("proxied") {
		want, err := strconv.ParseBool(q.Get("proxied"))
		if err != nil {
			return nil, DNSInvalid(CodeInvalidField, "Invalid 'proxied' value, must be a boolean")
		}
		preds = append(preds, func(r *Record) bool { return r.Proxied == want })
	}
	if tp := q.Get("tag.present"); tp != "" {
		preds = append(preds, func(r *Record) bool { return hasTag(r, tp, "", false) })
	}
	if ta := q.Get("tag.absent"); ta != "" {
		preds = append(preds, func(r *Record) bool { return !hasTag(r, ta, "", false) })
	}
	if te := q.Get("tag.exact"); te != "" {
		name, value, _ := strings.Cut(te, ":")
		preds = append(preds, func(r *Record) bool { return hasTag(r, name, value, true) })
	}
	anyOf := false
	switch q.Get("match") {
	case "", "all":
	case "any":
		anyOf = true
	default:
		return nil, DNSInvalid(CodeInvalidField, "Invalid 'match' value, must be \"any\" or \"all\"")
	}
	return func(r *Record) bool {
		if len(preds) == 0 {
			return true
		}
		for _, p := range preds {
			if p(r) == anyOf {
				return anyOf
			}
		}
		return !anyOf
	}, nil
}

func hasTag(r *Record, name, value string, withValue bool) bool {
	for _, t := range r.Tags {
		n, v, _ := strings.Cut(t, ":")
		if strings.EqualFold(n, name) && (!withValue || strings.EqualFold(v, value)) {
			return true
		}
	}
	return false
}

// BatchInput is the body of POST /zones/{zone}/dns_records/batch.
type BatchInput struct {
	Deletes []struct {
		ID string `json:"id"`
	} `json:"deletes"`
	Patches []RecordInput `json:"patches"`
	Puts    []RecordInput `json:"puts"`
	Posts   []RecordInput `json:"posts"`
}

// BatchJSON is the batch endpoint's result.
type BatchJSON struct {
	Deletes []RecordJSON `json:"deletes,omitempty"`
	Patches []RecordJSON `json:"patches,omitempty"`
	Puts    []RecordJSON `json:"puts,omitempty"`
	Posts   []RecordJSON `json:"posts,omitempty"`
}

// Prefixed names the batch entry a failure is about, as Cloudflare does.
func Prefixed(kind string, i int, f *Failure) *Failure {
	for k := range f.Errs {
		f.Errs[k].Message = fmt.Sprintf("%s[%d]: %s", kind, i, f.Errs[k].Message)
	}
	return f
}

// NameFilter matches a zone name exactly, or with Cloudflare's operators
// ("contains:foo", "starts_with:foo", "not_equal:foo", …). Zone names are
// lower case, so the case-sensitive variants behave like the others.
func NameFilter(v string) func(name string) bool {
	v = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(v), "."))
	ops := map[string]func(name, arg string) bool{
		"equal":                      func(n, a string) bool { return n == a },
		"not_equal":                  func(n, a string) bool { return n != a },
		"starts_with":                strings.HasPrefix,
		"ends_with":                  strings.HasSuffix,
		"contains":                   strings.Contains,
		"starts_with_case_sensitive": strings.HasPrefix,
		"ends_with_case_sensitive":   strings.HasSuffix,
		"contains_case_sensitive":    strings.Contains,
	}
	if op, arg, ok := strings.Cut(v, ":"); ok && ops[op] != nil {
		f := ops[op]
		return func(name string) bool { return f(name, arg) }
	}
	if n, err := NormalizeHostname(v); err == nil {
		v = n
	}
	return func(name string) bool { return name == v }
}

// ValidTokenValue accepts what can travel in a Bearer header.
func ValidTokenValue(v string) error {
	if len(v) < 8 || len(v) > 256 {
		return errors.New("token must be 8 to 256 characters")
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c >= 0x7f {
			return errors.New("token has a character that is not printable ASCII")
		}
	}
	return nil
}

// BearerToken reads the Authorization header as Cloudflare does: no
// credentials at all is 400 (9106), the global API key 403 (9103), anything
// but "Bearer <token>" 400 (6003/6111).
func BearerToken(r *http.Request) (string, *Failure) {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		if r.Header.Get("X-Auth-Key") != "" || r.Header.Get("X-Auth-Email") != "" {
			return "", Fail(http.StatusForbidden, CodeUnknownAuthKey, "Unknown X-Auth-Key or X-Auth-Email")
		}
		return "", Fail(http.StatusBadRequest, CodeMissingAuth, "Missing X-Auth-Key, X-Auth-Email or Authorization headers")
	}
	scheme, value, ok := strings.Cut(authz, " ")
	value = strings.TrimSpace(value)
	if !ok || !strings.EqualFold(scheme, "Bearer") || ValidTokenValue(value) != nil {
		return "", &Failure{Status: http.StatusBadRequest, Errs: []APIError{{
			Code: CodeInvalidHeaders, Message: "Invalid request headers",
			ErrorChain: []APIError{{Code: CodeInvalidAuthFormat, Message: "Invalid format for Authorization header"}},
		}}}
	}
	return value, nil
}

// ZoneFilter is GET /zones's filter of a zone by name: Cloudflare's name
// (NameFilter) and status (every zone is active) parameters, and account
// (account.id, account.name) as the server's account answers it; combined
// by match=all (the default) or match=any.
func ZoneFilter(q url.Values, accountID, accountName string) func(name string) bool {
	var preds []func(string) bool
	if q.Has("name") {
		preds = append(preds, NameFilter(q.Get("name")))
	}
	if v := q.Get("account.id"); v != "" {
		preds = append(preds, func(string) bool { return v == accountID })
	}
	if v := q.Get("account.name"); v != "" {
		preds = append(preds, func(string) bool { return strings.EqualFold(v, accountName) })
	}
	if v := q.Get("status"); v != "" {
		preds = append(preds, func(string) bool { return v == "active" })
	}
	anyOf := q.Get("match") == "any"
	return func(name string) bool {
		if len(preds) == 0 {
			return true
		}
		for _, p := range preds {
			if p(name) == anyOf {
				return anyOf
			}
		}
		return !anyOf
	}
}
