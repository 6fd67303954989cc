// Package testdns starts real authoritative servers for tests: BIND 9's
// named and Knot DNS's knotd, on loopback at a free port, each with zone
// files, a master TSIG key that may update and transfer every zone, and any
// further keys a test needs. The binaries come from Debian's bind9 and knot
// packages (hack/setup.sh installs them). A test that cannot find one is
// skipped and says why, except under CI=true, where a missing server fails
// the test: CI installs them, so their absence is a broken runner.
package testdns

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/testports"
)

// T is what the helpers need of a test: *testing.T and *testing.B, and
// Ginkgo's GinkgoT(), satisfy it.
type T interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	Failed() bool
}

// Key is a TSIG key the server knows.
type Key struct {
	// Name is the key's name, without a trailing dot.
	Name string
	// Algorithm is hmac-sha256 (default) or hmac-sha512.
	Algorithm string
	// Secret is the base64 secret.
	Secret string
}

func (k Key) algorithm() string {
	if k.Algorithm == "" {
		return "hmac-sha256"
	}
	return k.Algorithm
}

// Config describes the server to start.
type Config struct {
	// Zones are the zones the server is primary for, each with an SOA, an NS
	// and the NS's address.
	Zones []string
	// Master may update anything in every zone and transfer every zone. It
	// may be left out (BIND only): then Keys and Grants are all there is.
	Master Key
	// Keys are further keys the server knows. They may do nothing unless
	// Grants says so.
	Keys []Key
	// Grants are further BIND update-policy rules for every zone, such as
	// "grant k name x.example.test TXT;". Knot ignores them.
	Grants string
	// Records are further zone-file lines for every zone, in its origin.
	Records string
}

// Server is a running name server.
type Server struct {
	// Kind is "bind" or "knot".
	Kind string
	// Addr is host:port, for UDP and TCP.
	Addr string
	// Dir holds the configuration, the zone files and the log.
	Dir string
	log string
}

// Log returns what the server has logged so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// Host and Port split Addr.
func (s *Server) Host() string { h, _, _ := net.SplitHostPort(s.Addr); return h }

// Port is Addr's port.
func (s *Server) Port() string { _, p, _ := net.SplitHostPort(s.Addr); return p }

// Binary finds a program by name in PATH or /usr/sbin, or skips the test
// (fails it under CI=true) with what to install.
func Binary(t T, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := filepath.Join("/usr/sbin", name); isExecutable(p) {
		return p
	}
	msg := fmt.Sprintf("%s not found: install Debian's %s package (hack/setup.sh does, as root)", name, pkg)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "; CI=true, so a missing server is a failure, not a skip")
	}
	t.Skip(msg)
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// StartBIND runs named with cfg, stopped at the end of the test.
func StartBIND(t T, cfg Config) *Server {
	t.Helper()
	named := Binary(t, "named", "bind9")
	return start(t, "bind", cfg, func(dir string, port int) ([]string, error) {
		return []string{named, "-g", "-c", filepath.Join(dir, "named.conf")}, writeBIND(dir, port, cfg)
	})
}

// StartKnot runs knotd with cfg, stopped at the end of the test.
func StartKnot(t T, cfg Config) *Server {
	t.Helper()
	knotd := Binary(t, "knotd", "knot")
	return start(t, "knot", cfg, func(dir string, port int) ([]string, error) {
		return []string{knotd, "-c", filepath.Join(dir, "knot.conf")}, writeKnot(dir, port, cfg)
	})
}

// start runs the server, trying up to three times: a port picked free can be
// taken before the server binds it.
func start(t T, kind string, cfg Config, prepare func(dir string, port int) ([]string, error)) *Server {
	t.Helper()
	var last error
	for range 3 {
		s, err := try(t, kind, cfg, prepare)
		if err == nil {
			return s
		}
		last = err
	}
	t.Fatalf("%s did not start: %v", kind, last)
	return nil
}

func try(t T, kind string, cfg Config, prepare func(dir string, port int) ([]string, error)) (*Server, error) {
	dir, err := os.MkdirTemp("", "testdns-"+kind+"-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	for _, z := range cfg.Zones {
		if err := os.WriteFile(filepath.Join(dir, z+".zone"), []byte(zoneFile(z, cfg.Records)), 0o644); err != nil {
			return nil, err
		}
	}
	argv, err := prepare(dir, port)
	if err != nil {
		return nil, err
	}
	s := &Server{Kind: kind, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: dir, log: filepath.Join(dir, kind+".log")}
	logFile, err := os.Create(s.log)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		cancel()
		<-exited
		_ = logFile.Close()
		if !t.Failed() {
			_ = os.RemoveAll(dir)
		} else {
			t.Logf("%s's files are kept in %s", kind, dir)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			out := s.Log()
			stop()
			return nil, fmt.Errorf("%s exited:\n%s", kind, out)
		default:
		}
		if ready(s.Addr, cfg.Zones) {
			t.Cleanup(stop)
			return s, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	out := s.Log()
	stop()
	return nil, fmt.Errorf("%s did not answer on %s:\n%s", kind, s.Addr, out)
}

// ready reports whether every zone's SOA is served, over TCP as the tests use.
func ready(addr string, zones []string) bool {
	for _, z := range zones {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(z), dns.TypeSOA)
		r, _, err := (&dns.Client{Net: "tcp", Timeout: 300 * time.Millisecond}).Exchange(m, addr)
		if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			return false
		}
	}
	return true
}

// freePort is a port free for both TCP and UDP, below the ephemeral range
// (testports): named or knotd binds it after it is picked.
func freePort() (int, error) {
	addr, err := testports.TCPAndUDP()
	if err != nil {
		return 0, err
	}
	return testports.Port(addr), nil
}

func zoneFile(zone, records string) string {
	return fmt.Sprintf("$ORIGIN %[1]s.\n$TTL 300\n@ IN SOA ns.%[1]s. hostmaster.%[1]s. 1 3600 600 604800 60\n@ IN NS ns.%[1]s.\nns IN A 127.0.0.1\n%[2]s\n", zone, records)
}

func writeBIND(dir string, port int, cfg Config) error {
	var b strings.Builder
	fmt.Fprintf(&b, `options {
	directory "%[1]s";
	pid-file "%[1]s/named.pid";
	listen-on port %[2]d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	notify no;
	dnssec-validation no;
	minimal-responses yes;
};
controls { };
`, dir, port)
	keys := cfg.Keys
	transfer, master := "none;", ""
	if cfg.Master.Name != "" {
		keys = append([]Key{cfg.Master}, keys...)
		transfer = fmt.Sprintf("key %q;", cfg.Master.Name)
		master = fmt.Sprintf("grant %s zonesub ANY;", cfg.Master.Name)
	}
	for _, k := range keys {
		fmt.Fprintf(&b, "key %q { algorithm %s; secret %q; };\n", k.Name, k.algorithm(), k.Secret)
	}
	for _, z := range cfg.Zones {
		fmt.Fprintf(&b, `zone %[1]q {
	type primary;
	file "%[2]s/%[1]s.zone";
	allow-transfer { %[3]s };
	update-policy { %[4]s %[5]s };
};
`, z, dir, transfer, master, cfg.Grants)
	}
	return os.WriteFile(filepath.Join(dir, "named.conf"), []byte(b.String()), 0o600)
}

func writeKnot(dir string, port int, cfg Config) error {
	var b strings.Builder
	fmt.Fprintf(&b, `server:
    rundir: "%[1]s"
    listen: 127.0.0.1@%[2]d
    udp-workers: 1
    tcp-workers: 2
    background-workers: 1
database:
    storage: "%[1]s/db"
log:
  - target: stderr
    any: info
key:
`, dir, port)
	for _, k := range append([]Key{cfg.Master}, cfg.Keys...) {
		fmt.Fprintf(&b, "  - id: %s\n    algorithm: %s\n    secret: %s\n", k.Name, k.algorithm(), k.Secret)
	}
	fmt.Fprintf(&b, `acl:
  - id: master
    key: %s
    action: [update, transfer]
`, cfg.Master.Name)
	acls := "master"
	for _, k := range cfg.Keys {
		// Knot answers BADKEY for a key no ACL of the zone names; an ACL
		// that allows only NOTIFY makes the key known and powerless, as
		// a BIND key outside update-policy and allow-transfer is.
		fmt.Fprintf(&b, "  - id: %s\n    key: %s\n    action: notify\n", "known-"+k.Name, k.Name)
		acls += ", known-" + k.Name
	}
	fmt.Fprintf(&b, `template:
  - id: default
    storage: "%s"
    zonefile-sync: -1
    journal-content: none
    semantic-checks: off
    acl: [%s]
zone:
`, dir, acls)
	for _, z := range cfg.Zones {
		fmt.Fprintf(&b, "  - domain: %s\n    file: %s.zone\n", z, z)
	}
	return os.WriteFile(filepath.Join(dir, "knot.conf"), []byte(b.String()), 0o600)
}

// Dig asks the server with Debian's dig, over TCP and without recursion, and
// returns the answer's data lines (+short).
func Dig(t T, s *Server, name, typ string) []string {
	t.Helper()
	dig := Binary(t, "dig", "bind9-dnsutils")
	out, err := exec.Command(dig, "@"+s.Host(), "-p", s.Port(), "+tcp", "+norec", "+short", "+time=5", "+tries=1", name, typ).CombinedOutput()
	if err != nil {
		t.Fatalf("dig %s %s: %v\n%s", name, typ, err, out)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// Query asks the server over TCP without recursion and returns the answer.
func Query(t T, s *Server, name string, typ uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), typ)
	m.RecursionDesired = false
	r, _, err := (&dns.Client{Net: "tcp", Timeout: 5 * time.Second}).Exchange(m, s.Addr)
	if err != nil {
		t.Fatalf("asking %s for %s %s: %v", s.Kind, name, dns.TypeToString[typ], err)
	}
	return r
}

// Serve serves h on one loopback port over UDP and TCP until the test ends,
// and returns the address: resolvers in clients (lego, cert-manager, pebble)
// ask over UDP and retry a truncated answer over TCP at the same address.
func Serve(t T, h dns.Handler) string {
	t.Helper()
	var (
		pc  net.PacketConn
		l   net.Listener
		err error
	)
	for range 20 {
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if pc, err = net.ListenPacket("udp", l.Addr().String()); err == nil {
			break
		}
		_ = l.Close()
	}
	if err != nil {
		t.Fatalf("no loopback port free for both UDP and TCP: %v", err)
	}
	udp := &dns.Server{PacketConn: pc, Handler: h}
	tcp := &dns.Server{Listener: l, Handler: h}
	started := make(chan struct{}, 2)
	udp.NotifyStartedFunc = func() { started <- struct{}{} }
	tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	go func() { _ = udp.ActivateAndServe() }()
	go func() { _ = tcp.ActivateAndServe() }()
	<-started
	<-started
	t.Cleanup(func() {
		_ = udp.Shutdown()
		_ = tcp.Shutdown()
	})
	return l.Addr().String()
}
