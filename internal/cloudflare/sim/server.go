package sim

import (
	"github.com/scopedns/scopedns/internal/cloudflare/wire"

	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults taken from Cloudflare's published limits.
const (
	DefaultTokenQuota       = 500             // account API tokens per account
	DefaultRateLimit        = 1200            // requests per token per window
	DefaultRateWindow       = 5 * time.Minute //
	DefaultBatchLimit       = 200             // record changes per batch (free plan)
	DefaultCommentMaxLength = 100             // record comment characters (free plan)
	apiPrefix               = "/client/v4"
)

// DefaultNameServers are the NS names served for every zone unless
// Config.NameServers says otherwise.
var DefaultNameServers = []string{"ns1.cfsim.invalid", "ns2.cfsim.invalid"}

// Config configures a Server.
type Config struct {
	// AccountID is the account's 32-hex identifier; a deterministic one is
	// made up when empty.
	AccountID   string
	AccountName string
	// Zones are the zone names served; their IDs are deterministic 32-hex
	// strings derived from the account ID and the name (see ZoneID).
	Zones []string
	// MasterToken is the value of an account token allowed everything,
	// including Account API Tokens Write, on the whole account. It counts
	// against TokenQuota like any account token. Empty: no such token.
	MasterToken     string
	MasterTokenName string // default "cfsim-master"
	// TokenQuota is the number of account tokens allowed; default 500.
	TokenQuota int
	// RateLimit requests per token per RateWindow (sliding window);
	// defaults 1200 per 5 minutes. A negative RateLimit disables limiting.
	RateLimit  int
	RateWindow time.Duration
	// BatchLimit is the number of changes one batch may carry; default 200.
	BatchLimit int
	// CommentMaxLength is the longest record comment; default 100.
	CommentMaxLength int
	// NameServers are the NS records served at every zone apex; default
	// DefaultNameServers.
	NameServers []string
	// Now is the clock for token validity, timestamps and rate limiting;
	// default time.Now.
	Now func() time.Time
	// Logger logs each request (method, path, operation, token ID, status)
	// and never a token value; default discards.
	Logger *slog.Logger
}

// Server is an in-memory Cloudflare v4 API and authoritative DNS server.
// All methods are safe for concurrent use.
type Server struct {
	acctID, acctName string
	now              func() time.Time
	log              *slog.Logger
	nameServers      []string
	commentMax       int

	mu         sync.RWMutex
	zones      map[string]*zone // by ID
	zoneByName map[string]*zone
	tokens     map[string]*token // by ID
	byHash     map[[32]byte]*token
	tokenQuota int
	batchLimit int
	seq        atomic.Uint64
	ray        atomic.Uint64

	limiter *wire.RateLimiter
	faults  faultState

	reqMu    sync.Mutex
	requests map[string]int
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// New builds a Server from cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.AccountID == "" {
		cfg.AccountID = hashHex("cfsim-account")
	}
	if !hex32.MatchString(cfg.AccountID) {
		return nil, fmt.Errorf("account ID %q: must be 32 lower-case hex characters", cfg.AccountID)
	}
	if cfg.AccountName == "" {
		cfg.AccountName = "cfsim"
	}
	if cfg.MasterTokenName == "" {
		cfg.MasterTokenName = "cfsim-master"
	}
	if cfg.TokenQuota <= 0 {
		cfg.TokenQuota = DefaultTokenQuota
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = DefaultRateLimit
	}
	if cfg.RateWindow <= 0 {
		cfg.RateWindow = DefaultRateWindow
	}
	if cfg.BatchLimit <= 0 {
		cfg.BatchLimit = DefaultBatchLimit
	}
	if cfg.CommentMaxLength <= 0 {
		cfg.CommentMaxLength = DefaultCommentMaxLength
	}
	if len(cfg.NameServers) == 0 {
		cfg.NameServers = DefaultNameServers
	}
	s := &Server{
		acctID:     cfg.AccountID,
		acctName:   cfg.AccountName,
		now:        func() time.Time { return cfg.Now().UTC() },
		log:        cfg.Logger,
		commentMax: cfg.CommentMaxLength,
		zones:      map[string]*zone{},
		zoneByName: map[string]*zone{},
		tokens:     map[string]*token{},
		byHash:     map[[32]byte]*token{},
		tokenQuota: cfg.TokenQuota,
		batchLimit: cfg.BatchLimit,
		limiter:    wire.NewRateLimiter(cfg.RateLimit, cfg.RateWindow),
		requests:   map[string]int{},
	}
	for _, ns := range cfg.NameServers {
		n, err := wire.NormalizeHostname(ns)
		if err != nil {
			return nil, fmt.Errorf("name server %q: %w", ns, err)
		}
		s.nameServers = append(s.nameServers, n)
	}
	s.faults.init()
	for _, name := range cfg.Zones {
		if _, err := s.AddZone(name); err != nil {
			return nil, err
		}
	}
	if cfg.MasterToken != "" {
		if err := wire.ValidTokenValue(cfg.MasterToken); err != nil {
			return nil, fmt.Errorf("master token: %w", err)
		}
		all := make([]string, 0, len(permissionGroups))
		for _, g := range permissionGroups {
			all = append(all, g.ID)
		}
		pols, err := policiesToInput([]Policy{{
			Effect:             "allow",
			PermissionGroupIDs: all,
			Resources:          map[string]any{resourceAccountPrefix + s.acctID: "*"},
		}})
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		_, ferr := s.createTokenLocked(tokenInput{Name: cfg.MasterTokenName, Policies: pols}, cfg.MasterToken)
		s.mu.Unlock()
		if ferr != nil {
			return nil, fmt.Errorf("master token: %w", ferr)
		}
	}
	return s, nil
}

// AccountID returns the account identifier.
func (s *Server) AccountID() string { return s.acctID }

// ZoneID returns the ID of the zone with that name, or "" if not served.
func (s *Server) ZoneID(name string) string {
	n, err := wire.NormalizeHostname(name)
	if err != nil {
		return ""
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if z := s.zoneByName[n]; z != nil {
		return z.id
	}
	return ""
}

// AddZone starts serving a zone and returns its ID.
func (s *Server) AddZone(name string) (string, error) {
	n, err := wire.NormalizeHostname(name)
	if err != nil {
		return "", fmt.Errorf("zone %q: %w", name, err)
	}
	if !strings.Contains(n, ".") {
		return "", fmt.Errorf("zone %q: must have at least two labels", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if z := s.zoneByName[n]; z != nil {
		return z.id, nil
	}
	now := s.now()
	z := &zone{
		id:      hashHex("zone/" + s.acctID + "/" + n),
		name:    n,
		created: now,
		serial:  uint32(now.Unix()),
		recs:    newRecordSet(),
	}
	s.zones[z.id] = z
	s.zoneByName[n] = z
	return z.id, nil
}

// Tokens returns a snapshot of every token in the account, in creation
// order, without values.
func (s *Server) Tokens() []TokenInfo {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	toks := s.sortedTokensLocked()
	out := make([]TokenInfo, 0, len(toks))
	for _, t := range toks {
		out = append(out, t.info(now))
	}
	return out
}

// MintToken creates an account token without going through HTTP (and
// without counting a request); it returns the token and its value. The
// quota applies.
func (s *Server) MintToken(spec TokenSpec) (TokenInfo, string, error) {
	pols, err := policiesToInput(spec.Policies)
	if err != nil {
		return TokenInfo{}, "", err
	}
	in := tokenInput{Name: spec.Name, Policies: pols}
	if len(spec.Condition.RequestIPIn)+len(spec.Condition.RequestIPNotIn) > 0 {
		in.Condition = &conditionInput{RequestIPDot: &ipCondition{In: spec.Condition.RequestIPIn, NotIn: spec.Condition.RequestIPNotIn}}
	}
	if !spec.NotBefore.IsZero() {
		t := spec.NotBefore
		in.NotBefore = &t
	}
	if !spec.ExpiresOn.IsZero() {
		t := spec.ExpiresOn
		in.ExpiresOn = &t
	}
	value := newTokenValue()
	s.mu.Lock()
	t, f := s.createTokenLocked(in, value)
	s.mu.Unlock()
	if f != nil {
		return TokenInfo{}, "", f
	}
	return t.info(s.now()), value, nil
}

// SetTokenQuota changes the number of account tokens allowed.
func (s *Server) SetTokenQuota(n int) {
	s.mu.Lock()
	s.tokenQuota = n
	s.mu.Unlock()
}

// SetBatchLimit changes the number of changes one batch may carry.
func (s *Server) SetBatchLimit(n int) {
	s.mu.Lock()
	s.batchLimit = n
	s.mu.Unlock()
}

// SetRateLimit changes the per-token limit to n requests per window and
// forgets past requests; n <= 0 disables rate limiting.
func (s *Server) SetRateLimit(n int, window time.Duration) {
	s.limiter.Set(n, window)
}

// Requests returns how many API requests each operation received (every
// routed request counts, whatever its outcome), plus "dns.query" for DNS
// questions.
func (s *Server) Requests() map[string]int {
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	out := make(map[string]int, len(s.requests))
	for k, v := range s.requests {
		out[k] = v
	}
	return out
}

// ResetRequests zeroes the request counters.
func (s *Server) ResetRequests() {
	s.reqMu.Lock()
	s.requests = map[string]int{}
	s.reqMu.Unlock()
}

func (s *Server) count(op string) {
	s.reqMu.Lock()
	s.requests[op]++
	s.reqMu.Unlock()
}

func (s *Server) newID() string {
	return hashHex(fmt.Sprintf("%s/%d", s.acctID, s.seq.Add(1)))
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// request is what handlers get.
type request struct {
	r      *http.Request
	op     string
	tok    *token
	ip     netip.Addr
	params map[string]string
}

type handler func(s *Server, rq *request) (result any, info *ResultInfo, msgs []Message, f *wire.Failure)

type route struct {
	op      string
	h       handler
	noAuth  bool // verify endpoints authenticate themselves
	verify  bool
	segs    []string // pattern; "{x}" captures
	methods string
}

var routes = []route{
	{methods: "GET", segs: []string{"zones"}, op: "zones.list", h: (*Server).listZones},
	{methods: "GET", segs: []string{"zones", "{zone}"}, op: "zones.get", h: (*Server).getZone},
	{methods: "GET", segs: []string{"zones", "{zone}", "dns_records"}, op: "dns_records.list", h: (*Server).listRecords},
	{methods: "POST", segs: []string{"zones", "{zone}", "dns_records"}, op: "dns_records.create", h: (*Server).createRecord},
	{methods: "POST", segs: []string{"zones", "{zone}", "dns_records", "batch"}, op: "dns_records.batch", h: (*Server).batchRecords},
	{methods: "GET", segs: []string{"zones", "{zone}", "dns_records", "{record}"}, op: "dns_records.get", h: (*Server).getRecord},
	{methods: "PUT", segs: []string{"zones", "{zone}", "dns_records", "{record}"}, op: "dns_records.update", h: (*Server).updateRecord},
	{methods: "PATCH", segs: []string{"zones", "{zone}", "dns_records", "{record}"}, op: "dns_records.edit", h: (*Server).editRecord},
	{methods: "DELETE", segs: []string{"zones", "{zone}", "dns_records", "{record}"}, op: "dns_records.delete", h: (*Server).deleteRecord},
	{methods: "GET", segs: []string{"accounts"}, op: "accounts.list", h: (*Server).listAccounts},
	{methods: "GET", segs: []string{"accounts", "{account}"}, op: "accounts.get", h: (*Server).getAccount},
	{methods: "GET", segs: []string{"accounts", "{account}", "tokens"}, op: "tokens.list", h: (*Server).listTokens},
	{methods: "POST", segs: []string{"accounts", "{account}", "tokens"}, op: "tokens.create", h: (*Server).createToken},
	{methods: "GET", segs: []string{"accounts", "{account}", "tokens", "verify"}, op: "tokens.verify", h: (*Server).verifyAccountToken, verify: true},
	{methods: "GET", segs: []string{"accounts", "{account}", "tokens", "permission_groups"}, op: "tokens.permission_groups", h: (*Server).listPermissionGroups},
	{methods: "GET", segs: []string{"accounts", "{account}", "tokens", "{token}"}, op: "tokens.get", h: (*Server).getToken},
	{methods: "PUT", segs: []string{"accounts", "{account}", "tokens", "{token}"}, op: "tokens.update", h: (*Server).updateToken},
	{methods: "DELETE", segs: []string{"accounts", "{account}", "tokens", "{token}"}, op: "tokens.delete", h: (*Server).deleteToken},
	{methods: "PUT", segs: []string{"accounts", "{account}", "tokens", "{token}", "value"}, op: "tokens.roll", h: (*Server).rollToken},
	{methods: "GET", segs: []string{"user", "tokens", "verify"}, op: "user_tokens.verify", h: (*Server).verifyUserToken, verify: true},
}

// match finds the route for a path; methodOK is false when the path exists
// for other methods only.
func match(method string, segs []string) (rt *route, params map[string]string, pathOK bool) {
	for i := range routes {
		r := &routes[i]
		if len(r.segs) != len(segs) {
			continue
		}
		p := map[string]string{}
		ok := true
		for j, s := range r.segs {
			if strings.HasPrefix(s, "{") {
				if segs[j] == "" {
					ok = false
					break
				}
				p[strings.Trim(s, "{}")] = segs[j]
			} else if s != segs[j] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		// A literal segment ("verify", "batch") beats a capture: routes
		// are listed literal-first where they overlap.
		pathOK = true
		if r.methods == method {
			return r, p, true
		}
	}
	return nil, nil, pathOK
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// ServeHTTP serves the API under /client/v4/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	rq := &request{r: r, op: "unknown"}
	defer func() {
		tokID := ""
		if rq.tok != nil {
			tokID = rq.tok.id
		}
		s.log.Info("request", "method", r.Method, "path", r.URL.Path, "op", rq.op,
			"token_id", tokID, "status", sw.status, "duration", time.Since(start))
	}()
	sw.Header().Set("Cf-Ray", fmt.Sprintf("%016x-SIM", s.ray.Add(1)))
	s.serve(sw, rq)
}

func (s *Server) serve(w http.ResponseWriter, rq *request) {
	r := rq.r
	path := strings.TrimSuffix(r.URL.Path, "/")
	if !strings.HasPrefix(path, apiPrefix+"/") {
		wire.WriteFailure(w, wire.ErrNoRoute())
		return
	}
	segs := strings.Split(strings.TrimPrefix(path, apiPrefix+"/"), "/")
	rt, params, pathOK := match(r.Method, segs)
	if rt == nil {
		if pathOK {
			wire.WriteFailure(w, wire.ErrMethodNotAllowed(r.Method))
			return
		}
		wire.WriteFailure(w, wire.ErrNoRoute())
		return
	}
	rq.op, rq.params = rt.op, params
	rq.ip = clientIP(r)
	s.count(rt.op)

	if !s.faults.delay(r.Context(), rt.op) {
		return // client went away
	}

	tok, f := s.authenticate(r, rq.ip, rt.verify)
	rq.tok = tok
	if f != nil {
		wire.WriteFailure(w, f)
		return
	}

	if f := s.limiter.Allow(tok.id, s.now()); f != nil {
		wire.WriteFailure(w, f)
		return
	}
	tok.lastUsed.Store(s.now().UnixNano())

	before, after := s.faults.take(rt.op)
	if before != nil {
		wire.WriteFailure(w, before)
		return
	}

	result, info, msgs, f := rt.h(s, rq)
	if after != nil {
		// The operation happened; the client only sees a gateway error.
		wire.WriteFailure(w, after)
		return
	}
	if f != nil {
		wire.WriteFailure(w, f)
		return
	}
	wire.WriteEnvelope(w, http.StatusOK, wire.Envelope{Success: true, Result: result, ResultInfo: info, Messages: msgs})
}

// authenticate resolves the bearer token. Verify endpoints answer 401 with
// code 1000 for unusable tokens, other endpoints 401 with code 10000.
func (s *Server) authenticate(r *http.Request, ip netip.Addr, verify bool) (*token, *wire.Failure) {
	value, f := wire.BearerToken(r)
	if f != nil {
		return nil, f
	}
	invalid := wire.ErrAuthentication(http.StatusUnauthorized)
	if verify {
		invalid = wire.Fail(http.StatusUnauthorized, CodeInvalidAPIToken, "Invalid API Token")
	}
	h := sha256.Sum256([]byte(value))
	s.mu.RLock()
	tok := s.byHash[h]
	s.mu.RUnlock()
	if tok == nil || !tok.usable(s.now()) {
		return nil, invalid
	}
	if !tok.ipAllowed(ip) {
		return tok, wire.Failf(http.StatusForbidden, CodeUnauthorized, "Cannot use the access token from location: %s", ip)
	}
	return tok, nil
}

func clientIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// zoneFor resolves the {zone} parameter; unknown IDs route nowhere, like
// Cloudflare.
func (s *Server) zoneForLocked(rq *request) (*zone, *wire.Failure) {
	id := rq.params["zone"]
	z := s.zones[id]
	if z == nil {
		return nil, wire.ErrCouldNotRoute(rq.r.URL.Path)
	}
	return z, nil
}

func (s *Server) checkAccount(rq *request) *wire.Failure {
	if rq.params["account"] != s.acctID {
		return wire.ErrUnauthorized()
	}
	return nil
}

func (s *Server) sortedTokensLocked() []*token {
	toks := make([]*token, 0, len(s.tokens))
	for _, t := range s.tokens {
		toks = append(toks, t)
	}
	sort.Slice(toks, func(i, j int) bool { return toks[i].seq < toks[j].seq })
	return toks
}
