package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/auditsample"
	"github.com/scopedns/scopedns/internal/dnslisten"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

// Key is one namespace's TSIG key under one scope, with what it may write.
type Key struct {
	// Name is the TSIG key name, a FQDN with the trailing dot, for example
	// "team-a.prod.scopedns.".
	Name string
	// Algorithm is dns.HmacSHA256 or dns.HmacSHA512 (the spellings
	// "hmac-sha256", "HMACSHA256" and "sha256" are accepted too). Any other
	// algorithm, MD5 and SHA-1 included, makes the key unusable.
	Algorithm string
	// Secrets are base64 secrets, [current, previous during the rotation
	// overlap]; a MAC made with any one of them verifies, and the response is
	// signed with the one that verified the request.
	Secrets []string
	// PreviousValidUntil is when the secrets after the first (the
	// rotated-out one) stop verifying, by the gateway's clock at the time of
	// each request, whoever still holds them; zero: they never verify. The
	// controllers set it from the DNSCredential status (which tenants
	// cannot write), so the overlap ends on time even before the key is
	// next reconciled, and whatever the vault Secret still holds.
	PreviousValidUntil time.Time
	// Namespace and Scope say whose key it is; Scope selects the provider
	// (Writers.Provider) and Namespace the owner marker of written records.
	Namespace, Scope string
	// Zones maps zone name (lower case, no trailing dot) to provider zone ID.
	Zones map[string]string
	// Grants are the exact (name, type) pairs the namespace reserved, with the
	// maximum TTL for each (0: any).
	Grants map[Grant]int32
}

// Grant is one (name, type) a key may write: the name in lower case without
// the trailing dot, the type in upper case ("TXT"). It is the zone writer's,
// which checks it.
type Grant = zonewriter.Grant

// Keys looks keys up by the name in a request's TSIG RR. The gateway passes
// the name in lower case with the trailing dot. Implementations must be safe
// for concurrent use; [KeyStore] is one.
type Keys interface {
	Key(name string) (Key, bool)
}

// Writer, Writers and WritersFunc are the zone writer's Provider,
// Providers and ProvidersFunc: what a gateway that makes its own zone writer
// needs (a provider.Provider, with the master credential, per scope).
type (
	Writer      = zonewriter.Provider
	Writers     = zonewriter.Providers
	WritersFunc = zonewriter.ProvidersFunc
)

// ZoneWriter is the one write path of every front door, and the snapshot
// zone transfers read (only the tenant's granted records); *zonewriter.Writer
// is one.
type ZoneWriter interface {
	Write(ctx context.Context, r zonewriter.Request) (zonewriter.Result, error)
	Read(ctx context.Context, r zonewriter.ReadRequest) ([]provider.Record, error)
}

var _ ZoneWriter = (*zonewriter.Writer)(nil)

// Options configure a Server. Keys, and Writers or ZoneWriter, are required.
type Options struct {
	// Addr is the host:port to listen on, UDP and TCP on the same port;
	// "127.0.0.1:0" picks a free port. Default ":53".
	Addr string
	// Keys and Writers supply keys and providers; both are required.
	Keys    Keys
	Writers Writers
	// ZoneWriter writes every UPDATE. The manager passes the one all front
	// doors share (one snapshot and one batch per zone); nil makes one of
	// the gateway's own over Writers.
	ZoneWriter ZoneWriter
	// ClusterName goes into the owner marker of written records (see
	// OwnerComment); required.
	ClusterName string
	// RatePerKey is how many requests per second each key may make on
	// average (default 10; negative: unlimited), BurstPerKey how many at once
	// (default 20). nsupdate spends two per send: an SOA query and the update.
	RatePerKey  float64
	BurstPerKey int
	// MaxMessageSize is the largest request accepted, in bytes, over UDP and
	// TCP (default 4096; at most 65535). Larger UDP datagrams are dropped and
	// larger TCP messages close the connection.
	MaxMessageSize int
	// MaxUpdateRecords is the most RRs an UPDATE may carry in its
	// prerequisite section and, separately, its update section (default 100).
	MaxUpdateRecords int
	// MinTTL raises the TTL of added records that ask for less (default 60,
	// Cloudflare's minimum; negative: keep the TTL as sent).
	MinTTL int
	// Nameserver is the MNAME of synthesised SOA answers (default
	// "gateway.scopedns.invalid.").
	Nameserver string
	// RequestTimeout bounds the provider calls of one request (default 10s).
	RequestTimeout time.Duration
	// Logger receives one audit line per UPDATE; default: discard. Lines
	// of UPDATEs nobody authenticated are sampled: at most
	// UnauthenticatedLogPerSource per source address (default 5) and
	// UnauthenticatedLogMax in all (default 100) per
	// UnauthenticatedLogInterval (default 1m), then one summary line. Lines
	// of a key refused for its rate or its namespace's provider budget, and
	// lines of replayed requests, are sampled the same way, by key name.
	Logger                      *slog.Logger
	UnauthenticatedLogPerSource int
	UnauthenticatedLogMax       int
	UnauthenticatedLogInterval  time.Duration
	// Observer, when set, is called once per request with the response code's
	// name ("NOERROR", "REFUSED", "NOTAUTH", ...), for metrics. It must be
	// cheap and safe for concurrent use.
	Observer func(result string)
	// ReplayObserver, when set, is called with the key's scope for each
	// signed request refused as a replay (its MAC was seen inside its time
	// window), for metrics. It must be cheap and safe for concurrent use.
	ReplayObserver func(scope string)
	// ReplayMACsPerKey is how many MACs of signed requests each key's
	// replay cache holds, each until its request's time window closes
	// (default 8192: ten requests a second, the default rate, over the
	// longest window of 600 s is 6,000). A key holding that many refuses
	// further requests with REFUSED until some windows close.
	ReplayMACsPerKey int
	// Now is the clock for TSIG time checks, rate limits and SOA serials;
	// default time.Now.
	Now func() time.Time
}

const (
	defaultRate        = 10
	defaultBurst       = 20
	defaultMaxMessage  = 4096
	defaultMaxRecords  = 100
	defaultMinTTL      = 60
	defaultNameserver  = "gateway.scopedns.invalid."
	defaultTimeout     = 10 * time.Second
	maxFudge           = 300
	ioTimeout          = 5 * time.Second
	tcpIdleTimeout     = 8 * time.Second
	maxTCPQueries      = 128
	verifiedCacheLimit = 4096
	defaultReplayMACs  = 8192
)

// Server is the RFC 2136 gateway. It implements the controller-runtime
// manager.Runnable (Start) and LeaderElectionRunnable (every replica serves).
type Server struct {
	o        Options
	tsig     *tsigVerifier
	verified verifiedCache
	replays  *replayCache
	limits   *limiters
	sampler  *auditsample.Sampler // unauthenticated, by source address
	// overLimit samples lines of keys refused for their rate or budget,
	// by key name; replayed samples those of replayed requests, by key name.
	overLimit *auditsample.Sampler
	replayed  *auditsample.Sampler

	baseCtx atomic.Pointer[context.Context]

	mu      sync.Mutex
	started bool
	ready   chan struct{}
	udpAddr net.Addr
	tcpAddr net.Addr
}

// New checks the options and builds a server; Start runs it.
func New(o Options) (*Server, error) {
	var problems []error
	if o.Keys == nil {
		problems = append(problems, errors.New("gateway: Options.Keys is required"))
	}
	if o.Writers == nil && o.ZoneWriter == nil {
		problems = append(problems, errors.New("gateway: Options.Writers or Options.ZoneWriter is required"))
	}
	if o.ClusterName == "" {
		problems = append(problems, errors.New("gateway: Options.ClusterName is required"))
	}
	if o.MaxMessageSize > dns.MaxMsgSize {
		problems = append(problems, fmt.Errorf("gateway: Options.MaxMessageSize %d is above %d", o.MaxMessageSize, dns.MaxMsgSize))
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	if o.Addr == "" {
		o.Addr = ":53"
	}
	if o.RatePerKey == 0 {
		o.RatePerKey = defaultRate
	}
	if o.BurstPerKey <= 0 {
		o.BurstPerKey = defaultBurst
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = defaultMaxMessage
	}
	if o.MaxMessageSize < dns.MinMsgSize {
		o.MaxMessageSize = dns.MinMsgSize
	}
	if o.MaxUpdateRecords <= 0 {
		o.MaxUpdateRecords = defaultMaxRecords
	}
	if o.MinTTL == 0 {
		o.MinTTL = defaultMinTTL
	}
	if o.Nameserver == "" {
		o.Nameserver = defaultNameserver
	}
	o.Nameserver = dns.Fqdn(o.Nameserver)
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = defaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.UnauthenticatedLogPerSource <= 0 {
		o.UnauthenticatedLogPerSource = auditsample.DefaultPerSource
	}
	if o.UnauthenticatedLogMax <= 0 {
		o.UnauthenticatedLogMax = auditsample.DefaultTotal
	}
	if o.UnauthenticatedLogInterval <= 0 {
		o.UnauthenticatedLogInterval = auditsample.DefaultInterval
	}
	if o.ReplayMACsPerKey <= 0 {
		o.ReplayMACsPerKey = defaultReplayMACs
	}
	if o.ZoneWriter == nil {
		zw, err := zonewriter.New(zonewriter.Options{Providers: o.Writers, MinTTL: o.MinTTL})
		if err != nil {
			return nil, err
		}
		o.ZoneWriter = zw
	}
	s := &Server{
		o:         o,
		sampler:   auditsample.New(o.UnauthenticatedLogPerSource, o.UnauthenticatedLogMax, o.UnauthenticatedLogInterval),
		overLimit: auditsample.New(o.UnauthenticatedLogPerSource, o.UnauthenticatedLogMax, o.UnauthenticatedLogInterval),
		replayed:  auditsample.New(o.UnauthenticatedLogPerSource, o.UnauthenticatedLogMax, o.UnauthenticatedLogInterval),
		replays:   newReplayCache(o.ReplayMACsPerKey),
		limits:    newLimiters(o.RatePerKey, o.BurstPerKey),
		ready:     make(chan struct{}),
	}
	s.tsig = &tsigVerifier{s: s}
	s.verified.m = map[string]*verifiedEntry{}
	ctx := context.Background()
	s.baseCtx.Store(&ctx)
	return s, nil
}

// NeedLeaderElection implements controller-runtime's LeaderElectionRunnable:
// every replica serves.
func (s *Server) NeedLeaderElection() bool { return false }

// Ready is closed once Start listens on both UDP and TCP.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// UDPAddr is the UDP address the server listens on; nil before Ready.
func (s *Server) UDPAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.udpAddr
}

// TCPAddr is the TCP address the server listens on; nil before Ready.
func (s *Server) TCPAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tcpAddr
}

// Addr is the address the server listens on (the same port for UDP and TCP);
// "" before Ready.
func (s *Server) Addr() string {
	if a := s.TCPAddr(); a != nil {
		return a.String()
	}
	return ""
}

// Start listens on Options.Addr over UDP and TCP and serves until ctx is done.
// It returns nil after a clean shutdown.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("gateway: already started")
	}
	s.started = true
	s.mu.Unlock()

	pc, l, err := dnslisten.Listen(s.o.Addr)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	// In-flight updates finish (within RequestTimeout) when ctx ends, rather
	// than fail half-way.
	base := context.WithoutCancel(ctx)
	s.baseCtx.Store(&base)

	common := func(d *dns.Server) *dns.Server {
		d.Handler = s
		d.TsigProvider = s.tsig
		d.MsgAcceptFunc = s.accept
		d.ReadTimeout = ioTimeout
		d.WriteTimeout = ioTimeout
		return d
	}
	udpStarted, tcpStarted := make(chan struct{}), make(chan struct{})
	udp := common(&dns.Server{PacketConn: pc, UDPSize: s.o.MaxMessageSize, NotifyStartedFunc: func() { close(udpStarted) }})
	tcp := common(&dns.Server{
		Listener:          l,
		NotifyStartedFunc: func() { close(tcpStarted) },
		IdleTimeout:       func() time.Duration { return tcpIdleTimeout },
		MaxTCPQueries:     maxTCPQueries,
		DecorateReader:    func(r dns.Reader) dns.Reader { return sizeLimitReader{Reader: r, max: s.o.MaxMessageSize} },
	})
	errc := make(chan error, 2)
	go func() { errc <- udp.ActivateAndServe() }()
	go func() { errc <- tcp.ActivateAndServe() }()

	running := 0
	for running < 2 {
		select {
		case <-udpStarted:
			udpStarted = nil
			running++
		case <-tcpStarted:
			tcpStarted = nil
			running++
		case err := <-errc:
			// One side failed to start: stop the other once it runs.
			_ = pc.Close()
			_ = l.Close()
			return fmt.Errorf("gateway: serving on %s: %w", s.o.Addr, err)
		}
	}
	s.mu.Lock()
	s.udpAddr, s.tcpAddr = pc.LocalAddr(), l.Addr()
	s.mu.Unlock()
	close(s.ready)
	s.o.Logger.Info("rfc2136 gateway listening", "udp", pc.LocalAddr().String(), "tcp", l.Addr().String())

	var serveErr error
	// The summary of held-back audit lines is written when its interval
	// ends, also when the flood stopped before.
	tick := time.NewTicker(s.o.UnauthenticatedLogInterval)
	defer tick.Stop()
serve:
	for {
		select {
		case <-ctx.Done():
			break serve
		case serveErr = <-errc:
			break serve
		case <-tick.C:
			s.logSummary(msgUnauthenticatedSummary, s.sampler.Flush(s.o.Now()))
			s.logSummary(msgOverLimitSummary, s.overLimit.Flush(s.o.Now()))
			s.logSummary(msgReplayedSummary, s.replayed.Flush(s.o.Now()))
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	_ = udp.ShutdownContext(shutdownCtx)
	_ = tcp.ShutdownContext(shutdownCtx)
	if serveErr != nil {
		return fmt.Errorf("gateway: serving on %s: %w", s.o.Addr, serveErr)
	}
	return nil
}

// sizeLimitReader refuses TCP messages above the size limit; the server then
// closes the connection without an answer.
type sizeLimitReader struct {
	dns.Reader
	max int
}

var errTooLarge = errors.New("gateway: message too large")

func (r sizeLimitReader) ReadTCP(conn net.Conn, timeout time.Duration) ([]byte, error) {
	m, err := r.Reader.ReadTCP(conn, timeout)
	if err == nil && len(m) > r.max {
		return nil, errTooLarge
	}
	return m, err
}

// OwnerComment is the owner marker of the records a namespace writes
// through the gateway (and every other front door): zonewriter.OwnerComment.
func OwnerComment(cluster, namespace string) string {
	return zonewriter.OwnerComment(cluster, namespace)
}

func (s *Server) ctx() context.Context { return *s.baseCtx.Load() }
