package dyndns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/scopedns/scopedns/internal/zonewriter"
)

// Users looks logins up by username; *UserStore is one.
type Users interface {
	User(username string) (User, bool)
}

// Writer applies one request to a zone; *zonewriter.Writer is one.
type Writer interface {
	Write(ctx context.Context, r zonewriter.Request) (zonewriter.Result, error)
}

// Options configure a Handler. Users and Writer are required.
type Options struct {
	Users  Users
	Writer Writer
	// TTL of the records set (default 60: addresses that change want a
	// short TTL, and 60 s is Cloudflare's minimum); lowered to a grant's
	// maxTTL where that is less.
	TTL int
	// Rate and Burst are each login's token bucket, one token per hostname
	// of a request (default one every 15 s and 20: a router with 20 names
	// updating all of them every five minutes fits, a client in a loop
	// gets "abuse" within seconds). rate.Inf turns the limit off.
	Rate  rate.Limit
	Burst int
	// RepeatWindow is how long an address set (or found set) is remembered
	// so that the same update again is answered nochg without a writer call
	// (default 1m; negative: never).
	RepeatWindow time.Duration
	// TrustedProxies are the peers whose X-Forwarded-For is believed, for
	// the address of a request without myip (default none).
	TrustedProxies []netip.Prefix
	// WriteTimeout bounds one request's writes (default 30s). Writes run on
	// a context that a client hanging up does not cancel: a write queued in
	// the zone writer's batch is finished, not torn out of it.
	WriteTimeout time.Duration
	// Logger receives one audit line per request; default: discard.
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Handler serves the dyndns2 update (see the package documentation for the
// answers). It is safe for concurrent use.
type Handler struct {
	o       Options
	limits  *limiters
	repeats *repeats
	decoys  []string

	// paced limits the audit lines of requests refused before any write
	// (a failed login, a login over its rate): a flood of guesses or a
	// client in a loop is counted in the next line logged, not logged line
	// by line.
	paced      *rate.Limiter
	suppressed atomic.Int64
}

// New checks the options and builds a handler.
func New(o Options) (*Handler, error) {
	var errs []error
	if o.Users == nil {
		errs = append(errs, errors.New("dyndns: Options.Users is required"))
	}
	if o.Writer == nil {
		errs = append(errs, errors.New("dyndns: Options.Writer is required"))
	}
	if o.TTL < 0 {
		errs = append(errs, fmt.Errorf("dyndns: Options.TTL %d: must not be negative", o.TTL))
	}
	if o.Rate < 0 {
		errs = append(errs, fmt.Errorf("dyndns: Options.Rate %v: must not be negative (rate.Inf turns the limit off)", o.Rate))
	}
	if o.Burst < 0 {
		errs = append(errs, fmt.Errorf("dyndns: Options.Burst %d: must not be negative", o.Burst))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if o.TTL == 0 {
		o.TTL = 60
	}
	if o.Rate == 0 {
		o.Rate = rate.Every(15 * time.Second)
	}
	if o.Burst == 0 {
		o.Burst = maxHosts
	}
	if o.RepeatWindow == 0 {
		o.RepeatWindow = time.Minute
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Handler{
		o:       o,
		limits:  newLimiters(o.Rate, o.Burst),
		repeats: newRepeats(o.RepeatWindow),
		decoys:  decoyPasswords(),
		paced:   rate.NewLimiter(10, 20),
	}, nil
}

// The answers of the protocol.
const (
	answerGood    = "good"
	answerNochg   = "nochg"
	answerBadauth = "badauth"
	answerNotfqdn = "notfqdn"
	answerNohost  = "nohost"
	answerNumhost = "numhost"
	answerAbuse   = "abuse"
	answerDNSErr  = "dnserr"
	answer911     = "911"
)

// maxForm bounds a POST body: 20 hostnames of 253 octets and two addresses
// fit many times over.
const maxForm = 16 << 10

// reply is what a request is answered, and what its audit line says.
type reply struct {
	status int
	lines  []string
	// user is set once the login is known (even with a wrong password).
	user   *User
	authed bool
	// paced: the audit line is subject to Handler.paced.
	paced  bool
	hosts  []string
	addrs  addrs
	reason string
}

func once(answer, reason string) reply {
	return reply{status: http.StatusOK, lines: []string{answer}, reason: reason}
}

// ServeHTTP answers one update.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.o.Now()
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	rep := h.serve(r)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if rep.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="scopedns dyndns2", charset="UTF-8"`)
	}
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, strings.Join(rep.lines, "\n")+"\n")
	h.audit(r, rep, start)
}

// serve runs the checks in the order the package documentation lists them.
func (h *Handler) serve(r *http.Request) reply {
	username, password, ok := r.BasicAuth()
	if !ok {
		rep := once(answerBadauth, "no credentials")
		rep.status, rep.paced = http.StatusUnauthorized, true
		return rep
	}
	u, known := h.o.Users.User(username)
	passwords := h.decoys
	if known {
		passwords = u.Passwords
	}
	if !passwordMatches(password, passwords) || !known {
		rep := once(answerBadauth, "unknown username")
		rep.paced = true
		if known {
			rep.user, rep.reason = &u, "wrong password"
		}
		return rep
	}
	if err := r.ParseForm(); err != nil {
		rep := once(answerNotfqdn, "unreadable query or form")
		rep.user, rep.authed = &u, true
		return rep
	}
	rep := h.update(r, u)
	rep.user, rep.authed = &u, true
	return rep
}

// update is everything after a successful login.
func (h *Handler) update(r *http.Request, u User) reply {
	hosts := splitHostnames(r.Form.Get("hostname"))
	switch {
	case len(hosts) == 0:
		return once(answerNotfqdn, "no hostname")
	case len(hosts) > maxHosts:
		rep := once(answerNumhost, fmt.Sprintf("%d hostnames; at most %d", len(hosts), maxHosts))
		rep.hosts = hosts[:maxHosts]
		return rep
	}
	a, bad, err := parseMyIP(r.Form.Get("myip"))
	if err != nil {
		rep := once(answerNumhost, err.Error())
		rep.hosts = hosts
		return rep
	}
	var notes []string
	if len(bad) > 0 {
		notes = append(notes, fmt.Sprintf("myip entries ignored: %q", clipAll(bad)))
	}
	if a.empty() {
		ip := remoteAddr(r, h.o.TrustedProxies)
		if !ip.IsValid() {
			rep := once(answer911, "no address: myip empty and the remote address unreadable")
			rep.hosts = hosts
			return rep
		}
		a = byFamily(ip)
		notes = append(notes, "address from the request")
	}
	rep := reply{status: http.StatusOK, hosts: hosts, addrs: a}
	if !h.limits.allow(u.Username, len(hosts), h.o.Now()) {
		rep.lines = repeat(answerAbuse, len(hosts))
		rep.reason, rep.paced = "over the login's update rate", true
		return rep
	}
	ups, index, refused := plan(u, hosts, a, h.o.TTL)
	if refused != nil {
		rep.lines = refused.lines
		rep.reason = strings.Join(append(notes, refused.reason), "; ")
		return rep
	}
	// The writes outlive the client: see Options.WriteTimeout.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.o.WriteTimeout)
	defer cancel()
	outcomes := make([]outcome, len(ups))
	var wg sync.WaitGroup
	for i := range ups {
		wg.Go(func() { outcomes[i] = h.write(ctx, u, ups[i]) })
	}
	wg.Wait()
	for _, j := range index {
		rep.lines = append(rep.lines, outcomes[j].answer)
	}
	for j, o := range outcomes {
		if o.reason != "" {
			notes = append(notes, fmt.Sprintf("%s: %s", ups[j].name, o.reason))
		}
	}
	rep.reason = strings.Join(notes, "; ")
	return rep
}

func repeat(answer string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = answer
	}
	return out
}

// hostUpdate is the write of one hostname: Replace of its A and/or AAAA.
type hostUpdate struct {
	name string
	host Host
	ops  []zonewriter.Op
	// set are the addresses written: those of myip whose family is granted.
	set addrs
}

// refusal is a request refused whole before anything is written.
type refusal struct {
	lines  []string
	reason string
}

// plan checks every hostname against the login and builds one update per
// distinct name; index maps each hostname of the request to its update. One
// hostname the login may not update refuses the whole request (see the
// package documentation): nothing is written.
func plan(u User, hosts []string, a addrs, ttl int) (ups []hostUpdate, index []int, refused *refusal) {
	lines := make([]string, len(hosts))
	var why []string
	seen := map[string]int{}
	for i, sent := range hosts {
		name, ok := hostname(sent)
		if !ok {
			lines[i] = answerNotfqdn
			why = append(why, fmt.Sprintf("%q is not a fully qualified name", clipAll([]string{sent})[0]))
			continue
		}
		if j, dup := seen[name]; dup {
			index = append(index, j)
			continue
		}
		up, ok := planHost(u, name, a, ttl)
		if !ok {
			lines[i] = answerNohost
			why = append(why, fmt.Sprintf("%s is not among the login's hosts for %s", name, a.families()))
			continue
		}
		seen[name] = len(ups)
		index = append(index, len(ups))
		ups = append(ups, up)
	}
	if len(why) == 0 {
		return ups, index, nil
	}
	for i := range lines {
		if lines[i] == "" {
			lines[i] = answerNohost
		}
	}
	return nil, nil, &refusal{lines: lines, reason: "refused, nothing written: " + strings.Join(why, ", ")}
}

// planHost is the update of one name: a Replace for each family of a that
// the login holds a grant for. ok is false when the name is not among the
// login's hosts or none of a's families is granted on it.
func planHost(u User, name string, a addrs, ttl int) (hostUpdate, bool) {
	host, ok := u.Hosts[name]
	if !ok {
		return hostUpdate{}, false
	}
	up := hostUpdate{name: name, host: host}
	for _, f := range []struct {
		typ string
		ip  netip.Addr
		set *netip.Addr
	}{{"A", a.v4, &up.set.v4}, {"AAAA", a.v6, &up.set.v6}} {
		if !f.ip.IsValid() {
			continue
		}
		maxTTL, granted := u.Tenant.Grants[zonewriter.Grant{Name: name, Type: f.typ}]
		if !granted {
			continue
		}
		t := ttl
		if maxTTL > 0 && int(maxTTL) < t {
			t = int(maxTTL)
		}
		up.ops = append(up.ops, zonewriter.Op{
			Kind: zonewriter.Replace, Name: name, Type: f.typ, Values: []string{f.ip.String()}, TTL: t,
		})
		*f.set = f.ip
	}
	return up, len(up.ops) > 0
}

func (a addrs) families() string {
	switch {
	case a.v4.IsValid() && a.v6.IsValid():
		return "A or AAAA"
	case a.v6.IsValid():
		return "AAAA"
	default:
		return "A"
	}
}

// outcome is the answer line of one hostname and, for a failure, why.
type outcome struct{ answer, reason string }

// write sets one hostname's addresses through the writer, or answers nochg
// from the repeat memory when every address was set within the window.
func (h *Handler) write(ctx context.Context, u User, up hostUpdate) outcome {
	ip := up.set.String()
	keys := make([]repeatKey, len(up.ops))
	repeated := true
	for i, op := range up.ops {
		keys[i] = repeatKey{username: u.Username, name: op.Name, typ: op.Type}
		repeated = repeated && h.repeats.seen(keys[i], op.Values[0], h.o.Now())
	}
	if repeated {
		return outcome{answer: answerNochg + " " + ip}
	}
	res, err := h.o.Writer.Write(ctx, zonewriter.Request{
		Tenant: u.Tenant, Zone: up.host.Zone, ZoneID: up.host.ZoneID, Ops: up.ops, Protocol: "dyndns2",
	})
	if err != nil {
		for _, k := range keys {
			h.repeats.forget(k)
		}
		return outcome{answer: errorAnswer(err), reason: err.Error()}
	}
	now := h.o.Now()
	for i, op := range up.ops {
		h.repeats.remember(keys[i], op.Values[0], now)
	}
	if res.Changed() {
		return outcome{answer: answerGood + " " + ip}
	}
	return outcome{answer: answerNochg + " " + ip}
}

// errorAnswer is the protocol's answer to a write the zone writer did not
// apply.
func errorAnswer(err error) string {
	var ze *zonewriter.Error
	if !errors.As(err, &ze) {
		return answer911 // a timeout or a bug: the client is to retry later
	}
	switch ze.Code {
	case zonewriter.Refused:
		// Another owner's record at the name, a TTL above the grant: the
		// host is not this login's to set.
		return answerNohost
	case zonewriter.OverBudget:
		// The namespace used its share of the provider's requests: its
		// updates are blocked for a while, which is what "abuse" says.
		return answerAbuse
	case zonewriter.Failed:
		return answerDNSErr
	default:
		return answer911
	}
}

// audit logs the request's one line. Requests refused before any write are
// paced (see Handler.paced); the username
// is logged only when it is a login's, so a client that swapped username
// and password does not put the password in the log.
func (h *Handler) audit(r *http.Request, rep reply, start time.Time) {
	if rep.paced && !h.paced.AllowN(h.o.Now(), 1) {
		h.suppressed.Add(1)
		return
	}
	attrs := []slog.Attr{
		slog.String("protocol", "dyndns2"),
		slog.String("remote", r.RemoteAddr),
	}
	if rep.user != nil {
		attrs = append(attrs,
			slog.String("username", rep.user.Username),
			slog.String("namespace", rep.user.Tenant.Namespace),
			slog.String("scope", rep.user.Tenant.Scope))
	}
	if len(rep.hosts) > 0 {
		attrs = append(attrs, slog.Any("hostnames", clipAll(rep.hosts)))
	}
	if !rep.addrs.empty() {
		attrs = append(attrs, slog.String("myip", rep.addrs.String()))
	}
	attrs = append(attrs, slog.Any("answers", rep.lines))
	if rep.reason != "" {
		attrs = append(attrs, slog.String("reason", rep.reason))
	}
	if n := h.suppressed.Swap(0); n > 0 {
		attrs = append(attrs, slog.Int64("refusedNotLogged", n))
	}
	attrs = append(attrs, slog.Duration("duration", h.o.Now().Sub(start)))
	level := slog.LevelInfo
	for _, l := range rep.lines {
		if !strings.HasPrefix(l, answerGood) && !strings.HasPrefix(l, answerNochg) {
			level = slog.LevelWarn
		}
	}
	h.o.Logger.LogAttrs(r.Context(), level, "dyndns2 update", attrs...)
}

// clipAll shortens what a client sent to what a log line needs: a hostname
// is at most 253 octets, but a query may carry far more.
func clipAll(in []string) []string {
	const most = 256
	out := make([]string, len(in))
	for i, s := range in {
		if len(s) > most {
			s = s[:most] + "…"
		}
		out[i] = s
	}
	return out
}
