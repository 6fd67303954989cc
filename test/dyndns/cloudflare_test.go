package dyndns

import (
	"context"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scopedns/scopedns/internal/cfapi"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

// tokenA is team-a's Cloudflare API token (40 characters, Cloudflare's
// alphabet), allowed the A and AAAA records of home.
const tokenA = "TokenOfTeamA0123456789abcdefghijklmnopqr"

// serveCloudflareAPI serves the Cloudflare-compatible front door on TLS
// beside the dyndns2 one, over the same zone writer, with team-a's and
// team-b's tokens.
func (st *stack) serveCloudflareAPI(t *testing.T, w *zonewriter.Writer, logger *slog.Logger, zoneID string) {
	t.Helper()
	tok := func(ns, value string, grants map[zonewriter.Grant]int32) cfapi.Token {
		return cfapi.Token{
			ID: strings.Repeat("ab", 16), Values: []string{value},
			Tenant: zonewriter.Tenant{Namespace: ns, Scope: "prod", Owner: zonewriter.OwnerComment(cluster, ns), Grants: grants},
			Zones:  []cfapi.Zone{{ID: zoneID, Name: zone}},
		}
	}
	h, err := cfapi.New(cfapi.Options{Writer: w, Logger: logger, Tokens: cfapi.NewTokenStore(
		tok("team-a", tokenA, map[zonewriter.Grant]int32{{Name: home, Type: "A"}: 0, {Name: home, Type: "AAAA"}: 0}),
		tok("team-b", "TokenOfTeamB0123456789abcdefghijklmnopqr", map[zonewriter.Grant]int32{{Name: hostB, Type: "A"}: 0}),
	)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(cfapi.Prefix, h)
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	st.cfAddr = u.Host
	st.caFile = filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, st.caFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
}

// runDDClientCloudflare runs Debian's ddclient once with protocol=cloudflare
// and server= pointed at the front door: it looks the zone up by name, the
// A record by type and name, and PATCHes its content.
func runDDClientCloudflare(ctx context.Context, t *testing.T, bin string, st *stack, token, ip, hostname string) run {
	dir := t.TempDir()
	conf := filepath.Join(dir, "ddclient.conf")
	writeFile(t, conf, fmt.Sprintf(`daemon=0
syslog=no
ssl=yes
ssl_ca_file=%s
use=ip, ip=%s
protocol=cloudflare
server=%s/client/v4
zone=%s
login=token
password='%s'
%s
`, st.caFile, ip, st.cfAddr, zone, token, hostname))
	cmd := exec.CommandContext(ctx, bin, "-daemon=0", "-foreground", "-noquiet",
		"-file", conf, "-cache", filepath.Join(dir, "ddclient.cache"))
	out, err := cmd.CombinedOutput()
	return run{err: err, out: strings.ReplaceAll(redact(out), token, "<token>")}
}

// TestDDClientUpdatesAnARecordThroughTheCloudflareAPI: ddclient's cloudflare
// protocol only updates a record that exists; it updates its namespace's,
// and is refused, changing nothing, for another namespace's name and with a
// revoked token.
func TestDDClientUpdatesAnARecordThroughTheCloudflareAPI(t *testing.T) {
	bin := clients["ddclient"].find()
	if bin == "" {
		t.Skip("ddclient is not installed: run hack/setup.sh (Debian package ddclient); CI installs it")
	}
	cases := map[string]struct {
		token, hostname string
		ok              bool
		home            string
	}{
		"updates its namespace's record":           {token: tokenA, hostname: home, ok: true, home: "203.0.113.7"},
		"is refused at another namespace's record": {token: tokenA, hostname: hostB, home: "198.51.100.1"},
		"is refused with a revoked token":          {token: "RevokedToken0123456789abcdefghijklmnopqr", hostname: home, home: "198.51.100.1"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			st := newStack(t)
			if _, err := st.sim.AddRecord(zone, sim.Record{Name: home, Type: "A", Content: "198.51.100.1", TTL: 60, Comment: ownerA}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			r := runDDClientCloudflare(ctx, t, bin, st, tc.token, "203.0.113.7", tc.hostname)
			t.Logf("ddclient:\n%s", r.out)
			if ctx.Err() != nil {
				t.Fatalf("ddclient did not finish in time:\n%s", r.out)
			}
			if tc.ok != strings.Contains(r.out, "SUCCESS:") || !tc.ok && !strings.Contains(r.out, "FAILED:") {
				t.Errorf("ddclient's output does not report success %v:\n%s", tc.ok, r.out)
			}
			if got := st.addresses(home); strings.Join(got, ",") != tc.home {
				t.Errorf("A records at %s: %q, want %s", home, got, tc.home)
			}
			if got := st.addresses(hostB); len(got) != 1 || got[0] != addressB {
				t.Errorf("team-b's A record at %s: %q, want untouched %s", hostB, got, addressB)
			}
		})
	}
}
