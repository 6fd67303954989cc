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
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/gateway"
	"github.com/scopedns/scopedns/internal/provider/memory"
	"github.com/scopedns/scopedns/internal/testdns"
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

// startNamedKeys runs BIND (internal/testdns) with one key per entry of
// grants (key name -> the one name it may write TXT at).
func startNamedKeys(t *testing.T, _ string, grants map[string]string) string {
	t.Helper()
	cfg := testdns.Config{Zones: []string{zone}}
	var policy strings.Builder
	for _, k := range slices.Sorted(maps.Keys(grants)) {
		cfg.Keys = append(cfg.Keys, testdns.Key{Name: strings.TrimSuffix(k, "."), Secret: secret})
		fmt.Fprintf(&policy, "grant %s name %s TXT; ", k, grants[k])
	}
	cfg.Grants = policy.String()
	return testdns.StartBIND(t, cfg).Addr
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
