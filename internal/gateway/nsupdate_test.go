package gateway

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/testdns"
)

// TestNsupdate drives the gateway with BIND's nsupdate, a client this project
// did not write. The steps run in order: later ones see earlier writes.
func TestNsupdate(t *testing.T) {
	nsupdate, err := exec.LookPath("nsupdate")
	if err != nil {
		t.Skip("nsupdate not installed: run hack/setup.sh")
	}
	f := newFixture(t, nil)
	host, port, err := net.SplitHostPort(f.addr)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "team-a.key")
	if err := os.WriteFile(keyFile, []byte(fmt.Sprintf("key \"team-a.prod.scopedns\" {\n\talgorithm hmac-sha256;\n\tsecret \"%s\";\n};\n", secretA)), 0o600); err != nil {
		t.Fatal(err)
	}
	withKey := func(alg, name, secret string) []string { return []string{"-y", alg + ":" + name + ":" + secret} }
	server := fmt.Sprintf("server %s %s\n", host, port)
	owner := OwnerComment(testCluster, "team-a")

	for _, step := range []struct {
		name    string
		args    []string
		script  string
		ok      bool
		stderr  string // expected in the output on failure
		records []string
	}{
		{
			name:    "nsupdate finds the zone with a signed SOA query and adds a TXT record inside the grant",
			args:    withKey("hmac-sha256", "team-a.prod.scopedns", secretA),
			script:  server + "update add " + acmeName + ". 120 TXT \"token-1\"\nsend\n",
			ok:      true,
			records: []string{acmeName + " TXT token-1 " + owner},
		},
		{
			name:    "nsupdate over TCP with a key file adds a second value",
			args:    []string{"-v", "-k", keyFile},
			script:  server + "zone example.com\nupdate add " + acmeName + ". 120 TXT \"token-2\"\nsend\n",
			ok:      true,
			records: []string{acmeName + " TXT token-1 " + owner, acmeName + " TXT token-2 " + owner},
		},
		{
			name:    "nsupdate deletes one value inside the grant",
			args:    withKey("hmac-sha256", "team-a.prod.scopedns", secretA),
			script:  server + "update delete " + acmeName + ". TXT \"token-1\"\nsend\n",
			ok:      true,
			records: []string{acmeName + " TXT token-2 " + owner},
		},
		{
			name:    "nsupdate with the previous secret deletes the RRset during the overlap",
			args:    withKey("hmac-sha256", "team-a.prod.scopedns", secretAPrev),
			script:  server + "zone example.com\nupdate delete " + acmeName + ". TXT\nsend\n",
			ok:      true,
			records: []string{},
		},
		{
			name:   "nsupdate is refused a name outside the grant",
			args:   withKey("hmac-sha256", "team-a.prod.scopedns", secretA),
			script: server + "zone example.com\nupdate add www.example.com. 120 TXT \"nope\"\nsend\n",
			stderr: "update failed: REFUSED",
		},
		{
			name:   "nsupdate is refused a TTL above the grant's maximum",
			args:   withKey("hmac-sha256", "team-a.prod.scopedns", secretA),
			script: server + "zone example.com\nupdate add " + webName + ". 3600 A 203.0.113.10\nsend\n",
			stderr: "update failed: REFUSED",
		},
		{
			name:   "nsupdate with a wrong secret gets NOTAUTH(BADSIG)",
			args:   withKey("hmac-sha256", "team-a.prod.scopedns", wrongSecret),
			script: server + "zone example.com\nupdate add " + acmeName + ". 120 TXT \"x\"\nsend\n",
			stderr: "update failed: NOTAUTH(BADSIG)",
		},
		{
			name:   "nsupdate with an unknown key gets NOTAUTH(BADKEY)",
			args:   withKey("hmac-sha256", "nobody.prod.scopedns", secretA),
			script: server + "zone example.com\nupdate add " + acmeName + ". 120 TXT \"x\"\nsend\n",
			stderr: "update failed: NOTAUTH(BADKEY)",
		},
		{
			name:   "nsupdate signing with HMAC-MD5 gets NOTAUTH(BADKEY)",
			args:   withKey("hmac-md5", "team-a.prod.scopedns", secretA),
			script: server + "zone example.com\nupdate add " + acmeName + ". 120 TXT \"x\"\nsend\n",
			stderr: "update failed: NOTAUTH(BADKEY)",
		},
		{
			name:   "nsupdate for a zone that is not the key's gets NOTAUTH",
			args:   withKey("hmac-sha256", "team-a.prod.scopedns", secretA),
			script: server + "zone example.org\nupdate add _acme-challenge.example.org. 120 TXT \"x\"\nsend\n",
			stderr: "update failed: NOTAUTH",
		},
		{
			name:   "nsupdate without a key is refused",
			script: server + "zone example.com\nupdate add " + acmeName + ". 120 TXT \"x\"\nsend\n",
			stderr: "update failed: REFUSED",
		},
	} {
		t.Run(step.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, nsupdate, append(step.args, "-t", "5")...)
			cmd.Stdin = strings.NewReader(step.script)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			if step.ok != (err == nil) {
				t.Fatalf("nsupdate: %v, want success %v\n%s\naudit:\n%s", err, step.ok, out.String(), f.logs.String())
			}
			if step.stderr != "" && !strings.Contains(out.String(), step.stderr) {
				t.Errorf("nsupdate said %q, want %q", out.String(), step.stderr)
			}
			if step.records != nil {
				var got []string
				for _, r := range f.records() {
					got = append(got, strings.Join([]string{r.Name, r.Type, r.Content, r.Comment}, " "))
				}
				slices.Sort(got)
				if !slices.Equal(got, step.records) && !(len(got) == 0 && len(step.records) == 0) {
					t.Errorf("records %q, want %q", got, step.records)
				}
			}
			if !strings.Contains(step.stderr, "(BAD") && strings.Contains(out.String(), "TSIG error") {
				t.Errorf("nsupdate could not verify the answer's TSIG: %s", out.String())
			}
			if strings.Contains(out.String(), secretA) {
				t.Error("nsupdate output contains the secret")
			}
		})
	}
	// Nothing the refused steps sent reached the provider.
	if calls := f.store.Calls()[provider.OpRecordsBatch]; calls != 4 {
		t.Errorf("%d provider writes, want 4 (one per successful update)", calls)
	}
}

// TestKnsupdate drives the gateway with Knot's knsupdate, over UDP and TCP:
// each send of a session is signed afresh, so none is taken for a replay of
// the one before.
func TestKnsupdate(t *testing.T) {
	knsupdate := testdns.Binary(t, "knsupdate", "knot-dnsutils")
	f := newFixture(t, nil)
	host, port, err := net.SplitHostPort(f.addr)
	if err != nil {
		t.Fatal(err)
	}
	owner := OwnerComment(testCluster, "team-a")
	session := func(values ...string) string {
		s := "server " + host + " " + port + "\nzone example.com.\n"
		for _, v := range values {
			s += "update add " + acmeName + ". 120 TXT \"" + v + "\"\nsend\n"
		}
		return s + "quit\n"
	}
	for _, step := range []struct {
		name    string
		args    []string
		script  string
		records []string
	}{
		{
			name:    "knsupdate over UDP sends two updates in one session",
			args:    []string{"-y", "hmac-sha256:team-a.prod.scopedns:" + secretA},
			script:  session("k1", "k2"),
			records: []string{acmeName + " TXT k1 " + owner, acmeName + " TXT k2 " + owner},
		},
		{
			name:    "knsupdate over TCP with the previous secret sends two more",
			args:    []string{"-v", "-y", "hmac-sha256:team-a.prod.scopedns:" + secretAPrev},
			script:  session("k3", "k4"),
			records: []string{acmeName + " TXT k1 " + owner, acmeName + " TXT k2 " + owner, acmeName + " TXT k3 " + owner, acmeName + " TXT k4 " + owner},
		},
	} {
		t.Run(step.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, knsupdate, append(step.args, "-t", "5", "-r", "0")...)
			cmd.Stdin = strings.NewReader(step.script)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil || strings.Contains(out.String(), "error") {
				t.Fatalf("knsupdate: %v\n%s\naudit:\n%s", err, out.String(), f.logs.String())
			}
			var got []string
			for _, r := range f.records() {
				got = append(got, strings.Join([]string{r.Name, r.Type, r.Content, r.Comment}, " "))
			}
			slices.Sort(got)
			if !slices.Equal(got, step.records) {
				t.Errorf("records %q, want %q", got, step.records)
			}
		})
	}
}
