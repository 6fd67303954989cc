// Package bench compares the gateway with BIND 9 on the same signed RFC 2136
// updates. It holds only tests; run
//
//	go test -v -run TestCompareWithBIND ./internal/gateway/bench/
//
// (SCOPEDNS_BENCH_UPDATES sets how many updates each server gets, default 2000).
package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/gateway"
	"github.com/scopedns/scopedns/internal/provider/memory"
)

const (
	zone    = "example.com"
	keyName = "team-a.prod.scopedns."
	name    = "_acme-challenge.web.team-a.apps.example.com."
)

var secret = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("k"), 32))

func TestCompareWithBIND(t *testing.T) {
	if testing.Short() {
		t.Skip("comparison with BIND skipped in -short mode")
	}
	named, err := exec.LookPath("named")
	if err != nil {
		if _, err = os.Stat("/usr/sbin/named"); err != nil {
			t.Skip("named not installed: run hack/setup.sh")
		}
		named = "/usr/sbin/named"
	}
	updates := 2000
	if v, err := strconv.Atoi(os.Getenv("SCOPEDNS_BENCH_UPDATES")); err == nil && v > 0 {
		updates = v
	}
	updates -= updates % 2

	gw := startGateway(t)
	bind := startNamed(t, named)

	type row struct {
		server, mode string
		res          result
	}
	var rows []row
	for _, target := range []struct{ server, addr string }{{"scopedns gateway (memory provider)", gw}, {"BIND 9 (" + bindVersion(named) + ")", bind}} {
		for _, workers := range []int{1, 4} {
			res := run(t, target.addr, updates, workers)
			rows = append(rows, row{target.server, fmt.Sprintf("udp, %d client(s)", workers), res})
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d signed updates (HMAC-SHA256, add+delete of one TXT) per run, over loopback UDP\n", updates)
	fmt.Fprintf(&b, "%-40s %-18s %10s %10s %12s\n", "server", "clients", "p50", "p99", "updates/s")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-40s %-18s %10s %10s %12.0f\n", r.server, r.mode, r.res.p50.Round(time.Microsecond), r.res.p99.Round(time.Microsecond), r.res.rate)
	}
	t.Log(b.String())
}

type result struct {
	p50, p99 time.Duration
	rate     float64
}

// run sends updates signed updates (add, then delete, of distinct values)
// from workers clients at once and measures each.
func run(t *testing.T, addr string, updates, workers int) result {
	t.Helper()
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	perWorker := updates / workers / 2
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Net: "udp", TsigSecret: map[string]string{keyName: secret}, Timeout: 5 * time.Second}
			local := make([]time.Duration, 0, 2*perWorker)
			for i := range perWorker {
				value := fmt.Sprintf("w%d-%d", w, i)
				for _, m := range addDelete(value) {
					m.SetTsig(keyName, dns.HmacSHA256, 300, time.Now().Unix())
					t0 := time.Now()
					r, _, err := c.Exchange(m, addr)
					d := time.Since(t0)
					if err != nil || r.Rcode != dns.RcodeSuccess {
						t.Errorf("update against %s: %v %v", addr, r, err)
						return
					}
					local = append(local, d)
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(lat) == 0 {
		t.Fatal("no update succeeded")
	}
	slices.Sort(lat)
	return result{p50: lat[len(lat)/2], p99: lat[len(lat)*99/100], rate: float64(len(lat)) / elapsed.Seconds()}
}

func addDelete(value string) [2]*dns.Msg {
	txt := &dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 120}, Txt: []string{value}}
	add := new(dns.Msg)
	add.SetUpdate(zone + ".")
	add.Insert([]dns.RR{txt})
	del := new(dns.Msg)
	del.SetUpdate(zone + ".")
	del.Remove([]dns.RR{dns.Copy(txt)})
	return [2]*dns.Msg{add, del}
}

func startGateway(t *testing.T) string {
	t.Helper()
	store := memory.New(memory.Config{Zones: []string{zone}})
	keys := gateway.NewKeyStore(gateway.Key{
		Name: keyName, Algorithm: dns.HmacSHA256, Secrets: []string{secret}, Namespace: "team-a", Scope: "prod",
		Zones:  map[string]string{zone: store.ZoneID(zone)},
		Grants: map[gateway.Grant]int32{{Name: strings.TrimSuffix(name, "."), Type: "TXT"}: 0},
	})
	srv, err := gateway.New(gateway.Options{
		Addr:        "127.0.0.1:0",
		Keys:        keys,
		Writers:     gateway.WritersFunc(func(context.Context, string) (gateway.Writer, error) { return store.Master(), nil }),
		ClusterName: "bench",
		RatePerKey:  -1,
		Logger:      slog.New(slog.NewJSONHandler(io.Discard, nil)), // the audit line is formatted, as in production
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatal(err)
	}
	return srv.Addr()
}

// startNamed runs BIND as a primary for the zone with an update-policy that
// grants the key exactly the one name and type, like the gateway's grant.
func startNamed(t *testing.T, named string) string {
	t.Helper()
	return startNamedKeys(t, named, map[string]string{keyName: name})
}

// startNamedKeys runs BIND with one key per entry of grants (key name ->
// the one name it may write TXT at), trying up to three times: a port picked
// free can be taken before named binds it.
func startNamedKeys(t *testing.T, named string, grants map[string]string) string {
	t.Helper()
	var keys, policy strings.Builder
	for _, k := range slices.Sorted(maps.Keys(grants)) {
		fmt.Fprintf(&keys, "key \"%s\" { algorithm hmac-sha256; secret \"%s\"; };\n", k, secret)
		fmt.Fprintf(&policy, "grant %s name %s TXT; ", k, grants[k])
	}
	for attempt := 0; ; attempt++ {
		addr, err := tryNamedWith(t, named, keys.String(), policy.String())
		if err == nil {
			return addr
		}
		if attempt == 2 {
			t.Fatalf("named did not start: %v", err)
		}
	}
}

// tryNamedWith starts named with the given key statements and update-policy
// rules for the zone.
func tryNamedWith(t *testing.T, named, keys, grants string) (string, error) {
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	conf := fmt.Sprintf(`options {
	directory "%[1]s";
	pid-file "%[1]s/named.pid";
	listen-on port %[2]d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	notify no;
	dnssec-validation no;
};
controls { };
%[3]s
zone "%[4]s" {
	type primary;
	file "%[1]s/%[4]s.db";
	update-policy { %[5]s};
};
`, dir, port, keys, zone, grants)
	zoneFile := "$TTL 300\n@ IN SOA ns." + zone + ". hostmaster." + zone + ". 1 3600 600 604800 60\n@ IN NS ns." + zone + ".\nns IN A 127.0.0.1\n"
	if err := os.WriteFile(filepath.Join(dir, "named.conf"), []byte(conf), 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, zone+".db"), []byte(zoneFile), 0o600); err != nil {
		return "", err
	}
	logFile, err := os.Create(filepath.Join(dir, "named.log"))
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, named, "-g", "-c", filepath.Join(dir, "named.conf"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		cancel()
		return "", err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() { cancel(); <-exited; _ = logFile.Close() }
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			log, _ := os.ReadFile(logFile.Name())
			stop()
			return "", fmt.Errorf("named exited:\n%s", log)
		default:
		}
		m := new(dns.Msg)
		m.SetQuestion(zone+".", dns.TypeSOA)
		if r, _, err := (&dns.Client{Timeout: 300 * time.Millisecond}).Exchange(m, addr); err == nil && r.Rcode == dns.RcodeSuccess {
			t.Cleanup(stop)
			return addr, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(logFile.Name())
	stop()
	return "", fmt.Errorf("named did not answer on %s:\n%s", addr, log)
}

func bindVersion(named string) string {
	out, err := exec.Command(named, "-v").Output()
	if err != nil {
		return "unknown version"
	}
	if f := strings.Fields(strings.TrimPrefix(string(out), "BIND ")); len(f) > 0 {
		v, _, _ := strings.Cut(f[0], "-")
		return v
	}
	return "unknown version"
}
