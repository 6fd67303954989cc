package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const token = "Cmd-Test-Token-Value-0123456789abcdefghi"

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseOptions(t *testing.T) {
	tokenFile := writeFile(t, "token", token+"\n")
	seed := writeFile(t, "seed.yaml", "accountID: 0123456789abcdef0123456789abcdef\nzones: [example.com]\nrateWindow: 1m\nmasterTokenFile: "+tokenFile+"\n")
	cases := map[string]struct {
		args      []string
		env       map[string]string
		wantErr   string
		wantZones string
		wantToken string
	}{
		"a seed file gives zones and the token file": {
			args: []string{"-seed", seed}, wantZones: "example.com", wantToken: token,
		},
		"the environment gives the token": {
			args: []string{"-zones", "a.test,b.test"}, env: map[string]string{masterTokenEnv: token}, wantZones: "a.test,b.test", wantToken: token,
		},
		"the token file flag wins over the environment": {
			args: []string{"-zones", "a.test", "-master-token-file", tokenFile}, env: map[string]string{masterTokenEnv: "Other-Token-Value-123456"}, wantZones: "a.test", wantToken: token,
		},
		"flags add zones to the seed's": {
			args: []string{"-seed", seed, "-zones", "extra.test"}, wantZones: "example.com,extra.test", wantToken: token,
		},
		"no token is an error": {
			args: []string{"-zones", "a.test"}, wantErr: "no master token",
		},
		"no zones is an error": {
			args: []string{"-master-token-file", tokenFile}, wantErr: "no zones",
		},
		"an unknown seed field is an error": {
			args: []string{"-seed", writeFile(t, "bad.yaml", "zonez: [a.test]\n"), "-master-token-file", tokenFile}, wantErr: "zonez",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			o, err := parseOptions(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(o.seed.Zones, ","); got != tc.wantZones {
				t.Errorf("zones %q", got)
			}
			if o.masterToken != tc.wantToken {
				t.Errorf("wrong master token")
			}
		})
	}
}

func TestStartServesAPIAndDNS(t *testing.T) {
	tokenFile := writeFile(t, "token", token)
	seed := writeFile(t, "seed.json", `{
		"accountID": "0123456789abcdef0123456789abcdef",
		"zones": ["example.com"],
		"records": [{"zone": "example.com", "name": "www", "type": "A", "content": "203.0.113.10", "ttl": 300}]
	}`)
	o, err := parseOptions([]string{"-seed", seed, "-master-token-file", tokenFile, "-http-addr", "127.0.0.1:0", "-dns-addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	in, err := start(o, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer in.stop()

	req, _ := http.NewRequest("GET", "http://"+in.httpAddr+"/client/v4/zones?name=example.com", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Success bool `json:"success"`
		Result  []struct {
			ID string `json:"id"`
		} `json:"result"`
	}
	_ = json.NewDecoder(res.Body).Decode(&env)
	res.Body.Close()
	if !env.Success || len(env.Result) != 1 || env.Result[0].ID != in.srv.ZoneID("example.com") {
		t.Fatalf("zones: %+v", env)
	}

	for _, network := range []string{"udp", "tcp"} {
		m := new(dns.Msg)
		m.SetQuestion("www.example.com.", dns.TypeA)
		r, _, err := (&dns.Client{Net: network, Timeout: 2 * time.Second}).Exchange(m, in.dnsAddr)
		if err != nil {
			t.Fatalf("%s: %v", network, err)
		}
		if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "203.0.113.10" {
			t.Fatalf("%s answer %v", network, r.Answer)
		}
	}
	if strings.Contains(logs.String(), token) {
		t.Fatal("the master token value was logged")
	}
	if !strings.Contains(logs.String(), "master token ready") {
		t.Fatalf("logs:\n%s", logs.String())
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-zones", "example.com", "-http-addr", "127.0.0.1:0", "-dns-addr", "127.0.0.1:0"},
			func(k string) string {
				if k == masterTokenEnv {
					return token
				}
				return ""
			}, io.Discard)
	}()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
}
