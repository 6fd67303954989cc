package dyndns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/dyndns"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

const (
	cluster  = "test-cluster"
	zone     = "dyn.example.com"
	simToken = "sim-master-token"

	loginA    = "team-a.prod"
	passwordA = "PasswordOfTeamA0123456789"
	home      = "home.team-a.dyn.example.com"
	// hostB is team-b's: team-a's login must not touch it.
	hostB    = "b.team-b.dyn.example.com"
	addressB = "192.0.2.2"
)

var (
	ownerA = zonewriter.OwnerComment(cluster, "team-a")
	ownerB = zonewriter.OwnerComment(cluster, "team-b")
	// claimOwner marks a record team-a's claim "web" wrote: the claim's,
	// not the login's.
	claimOwner = provider.OwnerComment(cluster, "team-a", "web")
)

// stack is the front door on loopback writing through the real zone writer
// and Cloudflare provider to the simulator, which holds team-b's record.
type stack struct {
	sim  *sim.Server
	addr string // host:port of the front door
	// cfAddr is the Cloudflare-compatible API's host:port, on TLS whose
	// certificate caFile holds (ddclient's cloudflare protocol speaks only
	// https).
	cfAddr, caFile string
}

func newStack(t *testing.T, mutate ...func(*dyndns.Options)) *stack {
	t.Helper()
	s, err := sim.New(sim.Config{Zones: []string{zone}, MasterToken: simToken})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(s)
	t.Cleanup(api.Close)
	p, err := cloudflare.New(cloudflare.Options{
		AccountID: s.AccountID(), APIToken: simToken, BaseURL: api.URL + "/client/v4/", HTTPClient: api.Client(),
		MaxRetries: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	w, err := zonewriter.New(zonewriter.Options{
		Providers: zonewriter.ProvidersFunc(func(_ context.Context, scope string) (zonewriter.Provider, error) {
			if scope != "prod" {
				return nil, errors.New("no such scope")
			}
			return p, nil
		}),
		Window: 10 * time.Millisecond,
		Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	zoneID := s.ZoneID(zone)
	users := dyndns.NewUserStore(
		dyndns.User{
			Username: loginA, Passwords: []string{passwordA},
			Hosts: map[string]dyndns.Host{home: {Zone: zone, ZoneID: zoneID}},
			Tenant: zonewriter.Tenant{
				Namespace: "team-a", Scope: "prod", Owner: ownerA,
				Grants: map[zonewriter.Grant]int32{{Name: home, Type: "A"}: 0, {Name: home, Type: "AAAA"}: 0},
			},
		},
		dyndns.User{
			Username: "team-b.prod", Passwords: []string{"PasswordOfTeamB0123456789"},
			Hosts: map[string]dyndns.Host{hostB: {Zone: zone, ZoneID: zoneID}},
			Tenant: zonewriter.Tenant{
				Namespace: "team-b", Scope: "prod", Owner: ownerB,
				Grants: map[zonewriter.Grant]int32{{Name: hostB, Type: "A"}: 0},
			},
		},
	)
	o := dyndns.Options{Users: users, Writer: w, Logger: logger}
	for _, m := range mutate {
		m(&o)
	}
	h, err := dyndns.New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /nic/update", h)
	fd := httptest.NewServer(mux)
	t.Cleanup(fd.Close)
	if _, err := s.AddRecord(zone, sim.Record{Name: hostB, Type: "A", Content: addressB, TTL: 60, Comment: ownerB}); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(fd.URL)
	st := &stack{sim: s, addr: u.Host}
	st.serveCloudflareAPI(t, w, logger, zoneID)
	return st
}

// addresses are the contents of the A records at name, as the simulator
// holds them.
func (st *stack) addresses(name string) []string {
	var out []string
	for _, r := range st.sim.Records(zone) {
		if r.Name == name && r.Type == "A" {
			out = append(out, r.Content)
		}
	}
	return out
}

// testWriter sends the stack's logs to the test's.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// run is one client run: its exit error and output, every line that could
// hold a credential removed.
type run struct {
	err error
	out string
}

// client runs a real dyndns2 client once against the stack.
type client struct {
	// find returns the binary's path, or "" when it is not installed.
	find func() string
	run  func(ctx context.Context, t *testing.T, bin string, st *stack, login, password, ip string, hostnames []string) run
	// success is what the client prints when an update succeeded.
	success string
}

var clients = map[string]client{
	"ddclient": {find: lookPath("ddclient"), run: runDDClient, success: "SUCCESS:"},
	"inadyn":   {find: lookPath("inadyn", "/usr/sbin/inadyn"), run: runInadyn, success: "Successful alias table update"},
}

func lookPath(name string, also ...string) func() string {
	return func() string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, p := range also {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
		return ""
	}
}

func runDDClient(ctx context.Context, t *testing.T, bin string, st *stack, login, password, ip string, hostnames []string) run {
	dir := t.TempDir()
	conf := filepath.Join(dir, "ddclient.conf")
	// use=ip with ip= is 3.10's fixed address; daemon=0 and -foreground
	// run it once without forking.
	writeFile(t, conf, fmt.Sprintf(`daemon=0
syslog=no
ssl=no
use=ip, ip=%s
protocol=dyndns2
server=%s
login=%s
password='%s'
%s
`, ip, st.addr, login, password, strings.Join(hostnames, ",")))
	cmd := exec.CommandContext(ctx, bin, "-daemon=0", "-foreground", "-noquiet",
		"-file", conf, "-cache", filepath.Join(dir, "ddclient.cache"))
	out, err := cmd.CombinedOutput()
	return run{err: err, out: redact(out)}
}

func runInadyn(ctx context.Context, t *testing.T, bin string, st *stack, login, password, ip string, hostnames []string) run {
	dir := t.TempDir()
	conf := filepath.Join(dir, "inadyn.conf")
	quoted := make([]string, len(hostnames))
	for i, h := range hostnames {
		quoted[i] = fmt.Sprintf("%q", h)
	}
	writeFile(t, conf, fmt.Sprintf(`custom scopedns {
    ssl             = false
    username        = %s
    password        = %s
    ddns-server     = %s
    ddns-path       = "/nic/update?hostname=%%h&myip=%%i"
    ddns-response   = { good, nochg }
    hostname        = { %s }
    checkip-command = "echo %s"
}
`, login, password, st.addr, strings.Join(quoted, ", "), ip))
	cache := filepath.Join(dir, "cache")
	if err := os.Mkdir(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	// -l info: debug would print the request, Authorization header and all.
	cmd := exec.CommandContext(ctx, bin, "--once", "--foreground", "-l", "info", "-f", conf, "--cache-dir", cache)
	out, err := cmd.CombinedOutput()
	return run{err: err, out: redact(out)}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func redact(out []byte) string {
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if !strings.Contains(strings.ToLower(l), "authorization:") && !strings.Contains(l, passwordA) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// TestRealClientsUpdateAnARecord: each client sets its login's A record
// through the front door (and replaces the address it set before), and is
// refused, with nothing written, with a wrong password, with a hostname
// outside its login, and where the record at its hostname is a claim's.
func TestRealClientsUpdateAnARecord(t *testing.T) {
	cases := map[string]struct {
		before    string // an A record at home before the run, "" none
		owner     string // its owner marker, default team-a's front-door marker
		password  string
		hostnames []string
		only      string // run only with this client
		ok        bool
		answer    string // the answer the client reports
		home      []string
	}{
		"sets the A record of its login's hostname": {
			password: passwordA, hostnames: []string{home}, ok: true, answer: "good", home: []string{"203.0.113.7"},
		},
		"replaces the address its login set before": {
			before: "198.51.100.1", password: passwordA, hostnames: []string{home}, ok: true, answer: "good",
			home: []string{"203.0.113.7"},
		},
		"with a record at its hostname that a claim wrote is refused and leaves it alone": {
			before: "198.51.100.1", owner: claimOwner, password: passwordA, hostnames: []string{home}, answer: "nohost",
		},
		"with a wrong password is refused and writes nothing": {
			password: "WrongPassword0123456789", hostnames: []string{home}, answer: "badauth",
		},
		"with a hostname outside its login is refused and writes nothing": {
			password: passwordA, hostnames: []string{hostB}, answer: "nohost",
		},
		// ddclient sends hosts with the same settings in one request;
		// inadyn sends one request per hostname.
		"with a hostname list holding one name outside its login is refused whole": {
			password: passwordA, hostnames: []string{home, hostB}, only: "ddclient", answer: "nohost",
		},
	}
	for clientName, c := range clients {
		t.Run(clientName, func(t *testing.T) {
			bin := c.find()
			if bin == "" {
				t.Skipf("%s is not installed: run hack/setup.sh (Debian package %s); CI installs it", clientName, clientName)
			}
			for name, tc := range cases {
				if tc.only != "" && tc.only != clientName {
					continue
				}
				t.Run(name, func(t *testing.T) {
					st := newStack(t)
					if tc.before != "" {
						owner := tc.owner
						if owner == "" {
							owner = ownerA
						}
						if _, err := st.sim.AddRecord(zone, sim.Record{Name: home, Type: "A", Content: tc.before, TTL: 60, Comment: owner}); err != nil {
							t.Fatal(err)
						}
					}
					ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
					defer cancel()
					r := c.run(ctx, t, bin, st, loginA, tc.password, "203.0.113.7", tc.hostnames)
					if ctx.Err() != nil {
						t.Fatalf("%s did not finish in time:\n%s", clientName, r.out)
					}
					if (r.err == nil) != tc.ok {
						t.Errorf("%s exited with %v, want success %v:\n%s", clientName, r.err, tc.ok, r.out)
					}
					// inadyn at -l info prints the answer only when it is
					// not a success; the records below say what was set.
					if tc.ok != strings.Contains(r.out, c.success) || !tc.ok && !strings.Contains(r.out, tc.answer) {
						t.Errorf("%s's output does not report %q (success %v):\n%s", clientName, tc.answer, tc.ok, r.out)
					}
					want := tc.home
					if !tc.ok && tc.before != "" {
						want = []string{tc.before}
					}
					if got := st.addresses(home); strings.Join(got, ",") != strings.Join(want, ",") {
						t.Errorf("A records at %s: %q, want %q", home, got, want)
					}
					if got := st.addresses(hostB); len(got) != 1 || got[0] != addressB {
						t.Errorf("team-b's A record at %s: %q, want untouched %s", hostB, got, addressB)
					}
				})
			}
		})
	}
}

// TestAnUnchangedAddressCostsNoProviderCall: with the handler's repeat
// memory off, ddclient setting the address the record already holds is
// answered nochg by the zone writer from its snapshot, without a provider
// request.
func TestAnUnchangedAddressCostsNoProviderCall(t *testing.T) {
	bin := clients["ddclient"].find()
	if bin == "" {
		t.Skip("ddclient is not installed: run hack/setup.sh (Debian package ddclient); CI installs it")
	}
	st := newStack(t, func(o *dyndns.Options) { o.RepeatWindow = -1 })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if r := runDDClient(ctx, t, bin, st, loginA, passwordA, "203.0.113.7", []string{home}); r.err != nil || !strings.Contains(r.out, "good") {
		t.Fatalf("first run: %v\n%s", r.err, r.out)
	}
	st.sim.ResetRequests()
	// A fresh cache: ddclient does not know it set the address already.
	r := runDDClient(ctx, t, bin, st, loginA, passwordA, "203.0.113.7", []string{home})
	if r.err != nil || !strings.Contains(r.out, "nochg") {
		t.Fatalf("second run: %v\n%s", r.err, r.out)
	}
	if n := st.sim.Requests(); len(n) != 0 {
		t.Fatalf("the unchanged update cost provider requests: %v", n)
	}
	if got := st.addresses(home); len(got) != 1 || got[0] != "203.0.113.7" {
		t.Fatalf("A records at %s: %q", home, got)
	}
}
