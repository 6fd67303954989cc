package gateway

import (
	"encoding/hex"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/auditsample"
	"github.com/scopedns/scopedns/internal/provider"
)

const qrBit = 1 << 15

// accept is the server's MsgAcceptFunc: it runs on the header alone, before
// the message is parsed. miekg/dns's default refuses UPDATE with NOTIMP.
func (s *Server) accept(dh dns.Header) dns.MsgAcceptAction {
	if dh.Bits&qrBit != 0 {
		return dns.MsgIgnore // never answer a response
	}
	switch int(dh.Bits>>11) & 0xF {
	case dns.OpcodeUpdate:
		if dh.Qdcount != 1 { // RFC 2136 §3.1.1: exactly one zone
			s.observe(dns.RcodeFormatError)
			return dns.MsgReject
		}
		return dns.MsgAccept
	case dns.OpcodeQuery:
		if dh.Qdcount != 1 || dh.Ancount != 0 || dh.Nscount != 0 {
			s.observe(dns.RcodeFormatError)
			return dns.MsgReject
		}
		return dns.MsgAccept
	default:
		s.observe(dns.RcodeNotImplemented)
		return dns.MsgRejectNotImplemented
	}
}

func (s *Server) observe(rcode int) {
	if s.o.Observer != nil {
		s.o.Observer(rcodeName(rcode))
	}
}

func rcodeName(rcode int) string {
	if n, ok := dns.RcodeToString[rcode]; ok {
		return n
	}
	return "RCODE" + strconv.Itoa(rcode)
}

// request is the state of one request through the handler.
type request struct {
	w     dns.ResponseWriter
	r     *dns.Msg
	start time.Time

	tsig    *dns.TSIG      // the request's TSIG RR, if any
	keyName string         // from the TSIG RR, canonical
	v       *verifiedEntry // set when this server verified the MAC
	tsigErr uint16         // TSIG error of the response

	key Key
	// overLimit: refused for the key's message rate or its namespace's
	// provider budget (or its replay cache is full); replayed: refused as a
	// replay. Such lines are sampled per key.
	overLimit bool
	replayed  bool
	fresh     []byte // the MAC this request put in the replay cache
	// silent: a replay over UDP of a request still being answered, which
	// gets no answer of its own.
	silent bool
	zone   string
	names  []string
	types  []string
	reason string
	answer []dns.RR // QUERY answers
	ns     []dns.RR // QUERY authority
	// axfr: the request asks for a zone transfer; transfer holds the
	// records to send once it is allowed.
	axfr     bool
	transfer []dns.RR

	created, updated, deleted int
}

// ServeDNS implements dns.Handler. It trusts a TSIG RR only when this
// server's TsigProvider verified it (the ResponseWriter's TsigStatus is nil
// and the verification was recorded); anything else is treated as unsigned
// or failed.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	if r == nil || r.Response {
		return
	}
	q := &request{w: w, r: r, start: time.Now()}
	if q.tsig = r.IsTsig(); q.tsig != nil {
		// Take the verification record whatever happens next, so that none
		// is left behind.
		q.keyName = keyName(q.tsig.Hdr.Name)
		q.v = s.verified.take(q.keyName, q.tsig.MAC)
	}
	q.axfr = r.Opcode == dns.OpcodeQuery && len(r.Question) == 1 && r.Question[0].Qtype == dns.TypeAXFR
	rcode := s.serve(q)
	s.observe(rcode)
	if q.fresh != nil {
		// Answered from here on: a retransmission that arrives now gets
		// the refusal, not silence (its client may not have the answer).
		s.replays.done(q.keyName, q.fresh)
	}
	if q.axfr && rcode == dns.RcodeSuccess {
		// The transfer is sent before its audit line, which says whether
		// it all went out.
		s.sendTransfer(q)
		s.audit(q, rcode)
		return
	}
	if r.Opcode == dns.OpcodeUpdate || q.axfr {
		s.audit(q, rcode)
	}
	if !q.silent {
		s.respond(q, rcode)
	}
}

func (s *Server) serve(q *request) int {
	switch q.r.Opcode {
	case dns.OpcodeUpdate:
		return s.serveUpdate(q)
	case dns.OpcodeQuery:
		return s.serveQuery(q)
	default:
		q.reason = "opcode not implemented"
		return dns.RcodeNotImplemented
	}
}

// authenticate checks the TSIG of a request, and the key's rate. It returns
// NOERROR when the request may go on.
func (s *Server) authenticate(q *request) int {
	for i, rr := range q.r.Extra {
		if rr.Header().Rrtype == dns.TypeTSIG && i != len(q.r.Extra)-1 {
			q.reason = "TSIG record is not the last record"
			return dns.RcodeFormatError
		}
	}
	if q.tsig == nil {
		q.reason = "unsigned request"
		return dns.RcodeRefused
	}
	if err := q.w.TsigStatus(); err != nil {
		q.tsigErr = tsigErrorOf(err)
		if q.tsigErr == dns.RcodeBadTime && q.v == nil {
			q.tsigErr = dns.RcodeBadSig
		}
		q.reason = "TSIG " + dns.RcodeToString[int(q.tsigErr)]
		return dns.RcodeNotAuth
	}
	if q.v == nil {
		// Signed, but not verified by this server's TsigProvider.
		q.tsigErr = dns.RcodeBadSig
		q.reason = "TSIG not verified"
		return dns.RcodeNotAuth
	}
	q.key = q.v.key
	now := s.o.Now().Unix()
	window := int64(min(q.tsig.Fudge, maxFudge))
	if d := now - int64(q.tsig.TimeSigned); d > window || -d > window {
		q.tsigErr = dns.RcodeBadTime
		q.reason = "TSIG BADTIME"
		return dns.RcodeNotAuth
	}
	// The MAC is remembered for as long as the message is accepted: until
	// Time Signed + fudge, which lies up to a fudge past now+fudge for a
	// client whose clock runs ahead.
	if rc := s.checkReplay(q, max(now, int64(q.tsig.TimeSigned))+window); rc != dns.RcodeSuccess {
		return rc
	}
	if !s.limits.allow(q.keyName, s.o.Now()) {
		q.reason = "rate limit exceeded"
		q.overLimit = true
		return dns.RcodeRefused
	}
	return dns.RcodeSuccess
}

// checkReplay refuses a request whose MAC this server verified before
// inside its time window, which ends at the second until; it runs before the
// rate limit, so that replays of a tenant's captured requests do not spend
// its rate. Every signed request the gateway acts on passes here: UPDATE,
// the SOA query and AXFR.
//
// A replay is answered NOTAUTH with TSIG error BADTIME, signed with the
// key: RFC 8945 §5.2.3 answers BADTIME for the replay check it describes
// (a Time Signed earlier than the last seen from the key), and a replay is
// the same failure, a request that is no longer fresh; its signature is
// good, so BADSIG (unsigned, "the MAC is wrong") would both misstate the
// cause and give the client an answer it cannot authenticate.
//
// A client's retransmission of the identical datagram is a replay too:
// nsupdate resends its UPDATE unchanged after 3 s without an answer, while
// a slow provider may still be writing it. Such a replay over UDP of a
// request still being answered gets no answer, so that the client takes the
// original's answer rather than a refusal of its own retransmission; one
// after the original was answered gets the refusal. nsupdate and knsupdate
// sign every new attempt (a new send, the switch to TCP) afresh.
func (s *Server) checkReplay(q *request, until int64) int {
	mac, err := hex.DecodeString(q.tsig.MAC)
	if err != nil {
		q.tsigErr = dns.RcodeBadSig
		q.reason = "TSIG not verified"
		return dns.RcodeNotAuth
	}
	switch verdict := s.replays.check(q.keyName, mac, until, s.o.Now().Unix()); verdict {
	case replayFresh:
		q.fresh = mac
	case replayInFlight, replaySeen:
		q.silent = verdict == replayInFlight && isUDP(q.w)
		q.tsigErr = dns.RcodeBadTime
		q.reason = "TSIG replay: this MAC was seen inside its time window"
		if q.silent {
			q.reason = "TSIG replay of a request still being answered: not answered over UDP"
		}
		q.replayed = true
		if s.o.ReplayObserver != nil {
			s.o.ReplayObserver(q.key.Scope)
		}
		return dns.RcodeNotAuth
	case replayFull:
		q.reason = "replay cache full: too many signed requests inside their time windows"
		q.overLimit = true
		return dns.RcodeRefused
	}
	return dns.RcodeSuccess
}

// serveQuery answers a signed SOA question for a name in one of the key's
// zones, which nsupdate asks to find the zone. Nothing else is answered.
func (s *Server) serveQuery(q *request) int {
	if rc := s.authenticate(q); rc != dns.RcodeSuccess {
		return rc
	}
	if len(q.r.Question) != 1 {
		q.reason = "not one question"
		return dns.RcodeFormatError
	}
	qq := q.r.Question[0]
	if q.axfr {
		return s.serveTransfer(q)
	}
	if qq.Qclass != dns.ClassINET || qq.Qtype != dns.TypeSOA {
		q.reason = "only SOA questions are answered"
		return dns.RcodeRefused
	}
	zone := zoneOf(q.key, qq.Name)
	if zone == "" {
		q.reason = "name outside the key's zones"
		return dns.RcodeRefused
	}
	q.zone = zone
	soa := s.soa(zone)
	if provider.NormalizeName(qq.Name) == zone {
		q.answer = []dns.RR{soa}
	} else {
		q.ns = []dns.RR{soa}
	}
	return dns.RcodeSuccess
}

// zoneOf returns the most specific of the key's zones that holds name.
func zoneOf(k Key, name string) string {
	fq := dns.Fqdn(name)
	best := ""
	for z := range k.Zones {
		if dns.IsSubDomain(dns.Fqdn(z), fq) && dns.CountLabel(z+".") > dns.CountLabel(dns.Fqdn(best)) {
			best = z
		}
	}
	return best
}

// respond writes the answer: the zone or question copied, the TSIG signed
// with the secret that verified the request, nothing else. An answer to a
// request this server did not authenticate never exceeds 512 bytes: the
// question (which a request can inflate with compression pointers) and then
// the TSIG RR are left out when it would, so the gateway is no amplifier.
func (s *Server) respond(q *request, rcode int) {
	m := new(dns.Msg)
	m.SetRcode(q.r, rcode)
	m.Compress = true
	if q.r.Opcode == dns.OpcodeQuery && rcode == dns.RcodeSuccess {
		m.Authoritative = true
		m.Answer, m.Ns = q.answer, q.ns
	}
	if rcode > 0xF {
		m.Rcode = dns.RcodeServerFailure
	}
	if q.v != nil && q.tsig != nil {
		if buf, err := signResponse(m, q.tsig, q.v, q.tsigErr, s.o.Now()); err == nil {
			_, _ = q.w.Write(buf)
			return
		}
		m.Extra = nil
	}
	var withTSIG func(*dns.Msg) ([]byte, error)
	if q.tsig != nil && q.tsigErr != 0 {
		withTSIG = func(m *dns.Msg) ([]byte, error) { return signResponse(m, q.tsig, nil, q.tsigErr, s.o.Now()) }
	}
	buf, err := packUnauthenticated(m, withTSIG)
	if err == nil && len(buf) > dns.MinMsgSize {
		m.Question = nil
		buf, err = packUnauthenticated(m, withTSIG)
	}
	if err != nil || len(buf) > dns.MinMsgSize {
		m.Question, m.Extra = nil, nil
		buf, err = m.Pack()
	}
	if err == nil {
		_, _ = q.w.Write(buf)
	}
}

func packUnauthenticated(m *dns.Msg, withTSIG func(*dns.Msg) ([]byte, error)) ([]byte, error) {
	c := m.Copy()
	if withTSIG != nil {
		return withTSIG(c)
	}
	return c.Pack()
}

func (s *Server) audit(q *request, rcode int) {
	remote := ""
	if q.w != nil {
		remote = remoteAddr(q.w)
	}
	switch {
	case q.v == nil:
		// Nobody authenticated this request: sample before anything else
		// (even the key lookup below) is spent on it.
		ok, sum := s.sampler.Allow(remote, s.o.Now())
		s.logSummary(msgUnauthenticatedSummary, sum)
		if !ok {
			return
		}
	case q.overLimit:
		// A key flooding past its limits would flood the log as well.
		ok, sum := s.overLimit.Allow(q.keyName, s.o.Now())
		s.logSummary(msgOverLimitSummary, sum)
		if !ok {
			return
		}
	case q.replayed:
		// Whoever captured one request can send it as fast as the network
		// allows.
		ok, sum := s.replayed.Allow(q.keyName, s.o.Now())
		s.logSummary(msgReplayedSummary, sum)
		if !ok {
			return
		}
	}
	// A refused signature still names a key; when that key is known, say
	// whose it is, so a misconfigured Issuer (HMAC-MD5, a stale secret) is
	// visible to the tenant's admins rather than lost as noise.
	known := q.key.Namespace != ""
	if !known && q.keyName != "" {
		if k, ok := s.o.Keys.Key(q.keyName); ok {
			q.key.Namespace, q.key.Scope, known = k.Namespace, k.Scope, true
		}
	}
	attrs := []slog.Attr{
		slog.String("result", rcodeName(rcode)),
		slog.String("key", q.keyName),
		slog.String("namespace", q.key.Namespace),
		slog.String("scope", q.key.Scope),
		slog.String("zone", q.zone),
		slog.Any("names", q.names),
		slog.Any("types", q.types),
	}
	if remote != "" {
		attrs = append(attrs, slog.String("remote", remote))
	}
	if q.reason != "" {
		attrs = append(attrs, slog.String("reason", q.reason))
	}
	switch {
	case rcode == dns.RcodeSuccess && q.axfr:
		attrs = append(attrs, slog.Int("records", len(q.transfer)))
	case rcode == dns.RcodeSuccess:
		attrs = append(attrs, slog.Int("created", q.created), slog.Int("updated", q.updated), slog.Int("deleted", q.deleted))
	}
	attrs = append(attrs, slog.Duration("duration", time.Since(q.start)))
	// Requests nobody authenticated log at debug level, so that an
	// unauthenticated flood cannot flood the audit log; failed signatures of
	// a known key at warning level.
	level := slog.LevelInfo
	switch {
	case rcode == dns.RcodeServerFailure:
		level = slog.LevelError
	case q.v == nil && (q.tsig == nil || q.tsigErr == dns.RcodeBadKey) && !known:
		level = slog.LevelDebug
	case q.v == nil, q.replayed:
		level = slog.LevelWarn
	}
	msg := "rfc2136 update"
	if q.axfr {
		msg = "rfc2136 transfer"
	}
	s.o.Logger.LogAttrs(s.ctx(), level, msg, attrs...)
}

// logSummary writes the line that stands for the audit lines the sampler
// held back in an interval.
const (
	msgUnauthenticatedSummary = "rfc2136 unauthenticated updates not logged"
	msgOverLimitSummary       = "rfc2136 over-limit updates not logged"
	msgReplayedSummary        = "rfc2136 replayed requests not logged"
)

func (s *Server) logSummary(msg string, sum *auditsample.Summary) {
	auditsample.Log(s.ctx(), s.o.Logger, msg, sum)
}

// isUDP says whether w answers over UDP.
func isUDP(w dns.ResponseWriter) (udp bool) {
	defer func() {
		if recover() != nil { // as in remoteAddr
			udp = false
		}
	}()
	_, udp = w.RemoteAddr().(*net.UDPAddr)
	return udp
}

func remoteAddr(w dns.ResponseWriter) (a string) {
	defer func() {
		if recover() != nil { // miekg panics on a writer without a connection
			a = ""
		}
	}()
	if ra := w.RemoteAddr(); ra != nil {
		return ra.String()
	}
	return ""
}

// addName records a name and type for the audit line.
func (q *request) addName(name, typ string) {
	if !slices.Contains(q.names, name) {
		q.names = append(q.names, name)
	}
	if !slices.Contains(q.types, typ) {
		q.types = append(q.types, typ)
	}
}
