package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Record is a DNS record as Cloudflare stores it (and the simulator does).
type Record struct {
	ID       string
	ZoneID   string
	ZoneName string
	Name     string // fully qualified, lower case, no trailing dot
	Type     string
	Content  string
	TTL      int // 1 means automatic (300 on the wire)
	Proxied  bool
	Priority int         // MX and SRV
	Data     *RecordData // SRV and CAA
	Comment  string
	Tags     []string

	CreatedOn         time.Time
	ModifiedOn        time.Time
	CommentModifiedOn time.Time
	TagsModifiedOn    time.Time
}

// RecordData holds the structured fields of SRV and CAA records.
type RecordData struct {
	Priority int    `json:"priority,omitempty"`
	Weight   int    `json:"weight,omitempty"`
	Port     int    `json:"port,omitempty"`
	Target   string `json:"target,omitempty"`
	Flags    int    `json:"flags,omitempty"`
	Tag      string `json:"tag,omitempty"`
	Value    string `json:"value,omitempty"`
}

// Clone is a deep copy.
func (r *Record) Clone() *Record {
	c := *r
	if r.Data != nil {
		d := *r.Data
		c.Data = &d
	}
	c.Tags = append([]string(nil), r.Tags...)
	return &c
}

// SupportedTypes are the record types the simulator and the front door
// accept and answer.
var SupportedTypes = map[string]bool{"A": true, "AAAA": true, "CNAME": true, "TXT": true, "MX": true, "SRV": true, "CAA": true, "NS": true}

// Proxiable reports whether Cloudflare can proxy records of a type.
func Proxiable(typ string) bool { return typ == "A" || typ == "AAAA" || typ == "CNAME" }

// RecordInput is a record as it arrives in a request body. Pointers tell
// absent from zero for PATCH.
type RecordInput struct {
	ID       string          `json:"id"`
	Name     *string         `json:"name"`
	Type     *string         `json:"type"`
	Content  *string         `json:"content"`
	TTL      *float64        `json:"ttl"`
	Proxied  *bool           `json:"proxied"`
	Priority *float64        `json:"priority"`
	Comment  *string         `json:"comment"`
	Tags     *[]string       `json:"tags"`
	Data     *DataInput      `json:"data"`
	Settings json.RawMessage `json:"settings"`
}

// DataInput is the data object of SRV and CAA records in a request.
type DataInput struct {
	Priority *float64 `json:"priority"`
	Weight   *float64 `json:"weight"`
	Port     *float64 `json:"port"`
	Target   *string  `json:"target"`
	Flags    *float64 `json:"flags"`
	Tag      *string  `json:"tag"`
	Value    *string  `json:"value"`
}

// DecodeRecordInput reads one record of a request body.
func DecodeRecordInput(b []byte) (RecordInput, *Failure) {
	var in RecordInput
	if err := json.Unmarshal(b, &in); err != nil {
		return in, DecodeFailure(err)
	}
	return in, nil
}

// DecodeFailure turns a JSON error into Cloudflare's answer: 6007 for
// syntax, a DNS validation error naming the field for a wrong type.
func DecodeFailure(err error) *Failure {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return DNSInvalid(CodeInvalidField, "Invalid '%s' value, must be a %s", te.Field, jsonKind(te.Type.Kind().String()))
	}
	return Fail(400, CodeMalformedJSON, "Malformed JSON in request body")
}

func jsonKind(k string) string {
	switch {
	case k == "bool":
		return "boolean"
	case strings.HasPrefix(k, "float"), strings.HasPrefix(k, "int"):
		return "number"
	case k == "ptr":
		return "valid value"
	}
	return k
}

// Mode says which request builds a record.
type Mode int

const (
	ModeCreate Mode = iota // POST: full record
	ModePut                // PUT: full record replacing the old one
	ModePatch              // PATCH: fields given replace the old ones
)

// Zone is the zone a record is built in.
type Zone struct{ ID, Name string }

// Build makes the record a request asks for in zone z, as Cloudflare
// validates it. base is the record being replaced (PUT, PATCH) or nil;
// commentMax is the plan's longest comment.
func Build(z Zone, base *Record, in RecordInput, mode Mode, id string, now time.Time, commentMax int) (*Record, *Failure) {
	var r *Record
	if mode == ModePatch {
		r = base.Clone()
	} else {
		// POST and PUT describe the whole record: what is not given is
		// reset to its default (PUT keeps only the creation time).
		r = &Record{TTL: 1}
		if base != nil {
			r.CreatedOn = base.CreatedOn
		}
	}
	r.ID, r.ZoneID, r.ZoneName = id, z.ID, z.Name

	if in.Type != nil {
		r.Type = strings.ToUpper(strings.TrimSpace(*in.Type))
	} else if mode != ModePatch {
		return nil, DNSInvalid(CodeInvalidField, "DNS record type is required")
	}
	if !SupportedTypes[r.Type] {
		return nil, DNSInvalid(CodeInvalidField, "Invalid DNS record type %q (the simulator supports A, AAAA, CNAME, TXT, MX, SRV, CAA, NS)", r.Type)
	}
	if in.Name != nil {
		n, err := RecordName(*in.Name, z.Name)
		if err != nil {
			return nil, DNSInvalid(CodeInvalidField, "Invalid DNS record name %q: %v", *in.Name, err)
		}
		r.Name = n
	} else if mode != ModePatch {
		return nil, DNSInvalid(CodeInvalidField, "DNS record name is required")
	}
	if in.TTL != nil {
		ttl := *in.TTL
		if ttl != math.Trunc(ttl) || (ttl != 1 && (ttl < 60 || ttl > 86400)) {
			return nil, DNSInvalid(CodeInvalidField, "Invalid TTL %v. Must be between 60 and 86400 seconds, or 1 for Automatic.", ttl)
		}
		r.TTL = int(ttl)
	}
	if in.Proxied != nil {
		r.Proxied = *in.Proxied
	} else if mode != ModePatch {
		r.Proxied = false
	}
	if in.Priority != nil {
		p := *in.Priority
		if p != math.Trunc(p) || p < 0 || p > 65535 {
			return nil, DNSInvalid(CodeInvalidField, "Invalid priority %v. Must be between 0 and 65535.", p)
		}
		r.Priority = int(p)
	}
	if in.Comment != nil && *in.Comment != r.Comment {
		r.Comment, r.CommentModifiedOn = *in.Comment, now
		if r.Comment == "" {
			r.CommentModifiedOn = time.Time{}
		}
	}
	if n := utf8.RuneCountInString(r.Comment); n > commentMax {
		return nil, DNSInvalid(CodeInvalidField, "DNS record has %d comment characters, exceeding the quota of %d.", n, commentMax)
	}
	if in.Tags != nil {
		tags := append([]string(nil), (*in.Tags)...)
		for _, t := range tags {
			if !strings.Contains(t, ":") || strings.HasPrefix(t, ":") {
				return nil, DNSInvalid(CodeInvalidField, "Invalid tag %q, must be <name>:<value>", t)
			}
		}
		sort.Strings(tags)
		r.Tags, r.TagsModifiedOn = tags, now
		if len(tags) == 0 {
			r.Tags, r.TagsModifiedOn = nil, time.Time{}
		}
	}
	if f := setContent(r, in, mode != ModePatch, mode == ModePatch && in.Type != nil && base.Type != r.Type); f != nil {
		return nil, f
	}
	if r.Proxied {
		if !Proxiable(r.Type) {
			return nil, DNSInvalid(CodeNotProxiable, "This record type cannot be proxied.")
		}
		r.TTL = 1
	}
	if r.CreatedOn.IsZero() {
		r.CreatedOn = now
	}
	r.ModifiedOn = now
	return r, nil
}

// RecordName expands relative names and "@" into the zone, like
// Cloudflare.
func RecordName(name, zoneName string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "@" || n == "" {
		return zoneName, nil
	}
	norm, err := NormalizeName(n, true)
	if err != nil {
		return "", err
	}
	if !InZone(norm, zoneName) {
		norm += "." + zoneName
		if len(norm) > 253 {
			return "", fmt.Errorf("name is longer than 253 characters")
		}
	}
	return norm, nil
}

// setContent validates content and data for the record's type. full is a
// POST or PUT, which must give every required field; typeChanged forces
// content to be given again on a PATCH that changes the type.
func setContent(r *Record, in RecordInput, full, typeChanged bool) *Failure {
	needContent := in.Content == nil && in.Data == nil && (r.Content == "" || typeChanged)
	switch r.Type {
	case "SRV", "CAA":
		return setStructured(r, in, needContent)
	}
	if in.Data != nil && in.Content == nil {
		return DNSInvalid(CodeInvalidField, "%s records take 'content', not 'data'", r.Type)
	}
	if needContent {
		return DNSInvalid(CodeInvalidField, "Content for %s record is required.", r.Type)
	}
	c := r.Content
	if in.Content != nil {
		c = strings.TrimSpace(*in.Content)
	}
	r.Data = nil
	switch r.Type {
	case "A":
		a, err := netip.ParseAddr(c)
		if err != nil || !a.Is4() {
			return DNSInvalid(CodeInvalidField, "Content for A record must be a valid IPv4 address.")
		}
		c = a.String()
	case "AAAA":
		a, err := netip.ParseAddr(c)
		if err != nil || !a.Is6() || a.Is4In6() {
			return DNSInvalid(CodeInvalidField, "Content for AAAA record must be a valid IPv6 address.")
		}
		c = a.String()
	case "CNAME", "NS", "MX":
		h, err := normalizeTarget(c, r.Type == "MX")
		if err != nil {
			return DNSInvalid(CodeInvalidField, "Content for %s record is invalid: %v", r.Type, err)
		}
		if r.Type == "CNAME" && h == r.Name {
			return DNSInvalid(CodeInvalidField, "Content for CNAME record cannot be the record's own name.")
		}
		c = h
		if r.Type == "MX" && in.Priority == nil && (full || typeChanged) {
			// Cloudflare needs a priority for MX, on a PUT as on a POST;
			// 0 must be said explicitly.
			return DNSInvalid(CodeInvalidField, "Priority for MX record is required.")
		}
	case "TXT":
		if c == "" {
			return DNSInvalid(CodeInvalidField, "Content for TXT record is required.")
		}
		if len(c) > 2048 {
			return DNSInvalid(CodeInvalidField, "Content for TXT record must be at most 2048 characters.")
		}
	}
	if r.Type != "MX" {
		r.Priority = 0
	}
	r.Content = c
	return nil
}

func setStructured(r *Record, in RecordInput, needContent bool) *Failure {
	if needContent {
		return DNSInvalid(CodeInvalidField, "Data for %s record is required.", r.Type)
	}
	d := RecordData{}
	if r.Data != nil {
		d = *r.Data
	}
	if in.Data != nil {
		if r.Type == "SRV" {
			d = RecordData{Priority: d.Priority, Weight: d.Weight, Port: d.Port, Target: d.Target}
		} else {
			d = RecordData{Flags: d.Flags, Tag: d.Tag, Value: d.Value}
		}
		num := func(p *float64, dst *int, field string, max float64) *Failure {
			if p == nil {
				return nil
			}
			if *p != math.Trunc(*p) || *p < 0 || *p > max {
				return DNSInvalid(CodeInvalidField, "Invalid '%s' for %s record.", field, r.Type)
			}
			*dst = int(*p)
			return nil
		}
		for _, f := range []*Failure{
			num(in.Data.Priority, &d.Priority, "data.priority", 65535),
			num(in.Data.Weight, &d.Weight, "data.weight", 65535),
			num(in.Data.Port, &d.Port, "data.port", 65535),
			num(in.Data.Flags, &d.Flags, "data.flags", 255),
		} {
			if f != nil {
				return f
			}
		}
		if in.Data.Target != nil {
			d.Target = *in.Data.Target
		}
		if in.Data.Tag != nil {
			d.Tag = *in.Data.Tag
		}
		if in.Data.Value != nil {
			d.Value = *in.Data.Value
		}
	} else if in.Content != nil {
		parsed, f := parseStructuredContent(r.Type, strings.TrimSpace(*in.Content), in.Priority)
		if f != nil {
			return f
		}
		d = parsed
	}
	switch r.Type {
	case "SRV":
		if in.Priority != nil && in.Data != nil && in.Data.Priority == nil {
			d.Priority = r.Priority
		}
		h, err := normalizeTarget(d.Target, true)
		if err != nil {
			return DNSInvalid(CodeInvalidField, "Invalid 'data.target' for SRV record: %v", err)
		}
		d.Target = h
		r.Priority = d.Priority
		r.Content = fmt.Sprintf("%d %d %s", d.Weight, d.Port, d.Target)
	case "CAA":
		switch d.Tag {
		case "issue", "issuewild", "iodef", "issuevmc", "issuemail":
		default:
			return DNSInvalid(CodeInvalidField, "Invalid 'data.tag' for CAA record: %q", d.Tag)
		}
		r.Priority = 0
		r.Content = fmt.Sprintf("%d %s %s", d.Flags, d.Tag, strconv.Quote(d.Value))
	}
	r.Data = &d
	return nil
}

// normalizeTarget normalises a target host name; root allows "." (the
// null MX of RFC 7505, the unavailable service of RFC 2782), which
// Cloudflare accepts for MX and SRV.
func normalizeTarget(name string, root bool) (string, error) {
	if root && strings.TrimSpace(name) == "." {
		return ".", nil
	}
	return NormalizeHostname(name)
}

// parseStructuredContent reads SRV content "[priority] weight port target"
// and CAA content `flags tag "value"`.
func parseStructuredContent(typ, c string, prio *float64) (RecordData, *Failure) {
	f := strings.Fields(c)
	switch typ {
	case "SRV":
		if len(f) == 3 && prio != nil {
			f = append([]string{strconv.Itoa(int(*prio))}, f...)
		}
		if len(f) != 4 {
			return RecordData{}, DNSInvalid(CodeInvalidField, "Content for SRV record must be \"priority weight port target\" or use 'data'.")
		}
		var n [3]int
		for i := 0; i < 3; i++ {
			v, err := strconv.Atoi(f[i])
			if err != nil || v < 0 || v > 65535 {
				return RecordData{}, DNSInvalid(CodeInvalidField, "Content for SRV record has an invalid number %q.", f[i])
			}
			n[i] = v
		}
		return RecordData{Priority: n[0], Weight: n[1], Port: n[2], Target: f[3]}, nil
	default: // CAA
		if len(f) < 3 {
			return RecordData{}, DNSInvalid(CodeInvalidField, "Content for CAA record must be 'flags tag \"value\"' or use 'data'.")
		}
		flags, err := strconv.Atoi(f[0])
		if err != nil || flags < 0 || flags > 255 {
			return RecordData{}, DNSInvalid(CodeInvalidField, "Content for CAA record has invalid flags %q.", f[0])
		}
		rest := strings.TrimSpace(strings.SplitN(c, f[1], 2)[1])
		if v, err := strconv.Unquote(rest); err == nil {
			rest = v
		}
		return RecordData{Flags: flags, Tag: f[1], Value: rest}, nil
	}
}

// Conflict applies Cloudflare's rules against the records already at the
// record's name (others; r itself among them is skipped): no identical
// record, a CNAME stands alone. The answer does not depend on the order of
// others (the simulator and the front door hold them in different orders):
// an identical record first, then an address or CNAME beside a new CNAME,
// then the first other type by name.
func Conflict(others []*Record, r *Record) *Failure {
	for _, o := range others {
		if o.ID == r.ID {
			continue
		}
		if o.Type == r.Type && strings.EqualFold(o.Content, r.Content) && o.Priority == r.Priority {
			return Fail(400, CodeRecordExists, "Record already exists.")
		}
	}
	beside := "" // the first type by name beside a new CNAME
	for _, o := range others {
		if o.ID == r.ID {
			continue
		}
		switch {
		case r.Type == "CNAME" && (o.Type == "A" || o.Type == "AAAA" || o.Type == "CNAME"):
			return Fail(400, CodeHostConflict, "An A, AAAA, or CNAME record with that host already exists. For more details, refer to <https://developers.cloudflare.com/dns/manage-dns-records/troubleshooting/records-with-same-name/>.")
		case r.Type == "CNAME":
			if beside == "" || o.Type < beside {
				beside = o.Type
			}
		case o.Type == "CNAME":
			return Fail(400, CodeCNAMEConflict, "A CNAME record with that host already exists. For more details, refer to <https://developers.cloudflare.com/dns/manage-dns-records/troubleshooting/records-with-same-name/>.")
		}
	}
	if beside != "" {
		return Failf(400, CodeHostConflict, "A record with that host already exists (%s). A CNAME record cannot share its name with any other record.", beside)
	}
	return nil
}

// RecordJSON is Cloudflare's record object.
type RecordJSON struct {
	ID                string         `json:"id"`
	Name              string         `json:"name"`
	Type              string         `json:"type"`
	Content           string         `json:"content"`
	Proxiable         bool           `json:"proxiable"`
	Proxied           bool           `json:"proxied"`
	TTL               int            `json:"ttl"`
	Priority          *int           `json:"priority,omitempty"`
	Data              any            `json:"data,omitempty"`
	Settings          map[string]any `json:"settings"`
	Meta              map[string]any `json:"meta"`
	Comment           *string        `json:"comment"`
	Tags              []string       `json:"tags"`
	CreatedOn         time.Time      `json:"created_on"`
	ModifiedOn        time.Time      `json:"modified_on"`
	CommentModifiedOn *time.Time     `json:"comment_modified_on,omitempty"`
	TagsModifiedOn    *time.Time     `json:"tags_modified_on,omitempty"`
}

// ToJSON is the record as Cloudflare answers it.
func ToJSON(r *Record) RecordJSON {
	j := RecordJSON{
		ID: r.ID, Name: r.Name, Type: r.Type, Content: r.Content,
		Proxiable: Proxiable(r.Type), Proxied: r.Proxied, TTL: r.TTL,
		Data: dataJSON(r), Settings: map[string]any{}, Meta: map[string]any{},
		Tags: r.Tags, CreatedOn: r.CreatedOn, ModifiedOn: r.ModifiedOn,
	}
	if j.Tags == nil {
		j.Tags = []string{}
	}
	if r.Type == "MX" || r.Type == "SRV" {
		p := r.Priority
		j.Priority = &p
	}
	if r.Comment != "" {
		c := r.Comment
		j.Comment = &c
		t := r.CommentModifiedOn
		j.CommentModifiedOn = &t
	}
	if len(r.Tags) > 0 {
		t := r.TagsModifiedOn
		j.TagsModifiedOn = &t
	}
	return j
}

type srvDataJSON struct {
	Priority int    `json:"priority"`
	Weight   int    `json:"weight"`
	Port     int    `json:"port"`
	Target   string `json:"target"`
}

type caaDataJSON struct {
	Flags int    `json:"flags"`
	Tag   string `json:"tag"`
	Value string `json:"value"`
}

// dataJSON is the data object Cloudflare returns: every field of the
// type's data, zeros included, and none of another type's.
func dataJSON(r *Record) any {
	if r.Data == nil {
		return nil
	}
	switch r.Type {
	case "SRV":
		return srvDataJSON{Priority: r.Data.Priority, Weight: r.Data.Weight, Port: r.Data.Port, Target: r.Data.Target}
	case "CAA":
		return caaDataJSON{Flags: r.Data.Flags, Tag: r.Data.Tag, Value: r.Data.Value}
	}
	return nil
}
