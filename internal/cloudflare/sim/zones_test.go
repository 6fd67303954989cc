package sim

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
	"github.com/scopedns/scopedns/internal/cloudflare/wire"
)

func TestZoneList(t *testing.T) {
	var zones []string
	for i := 0; i < 60; i++ {
		zones = append(zones, fmt.Sprintf("z%02d.test", i))
	}
	f := newFixture(t, func(c *Config) { c.Zones = append(zones, "example.com") })
	cases := map[string]struct {
		query     string
		wantNames string
		wantInfo  ResultInfo
	}{
		"a name finds its zone": {
			query: "?name=example.com", wantNames: "example.com",
			wantInfo: ResultInfo{Page: 1, PerPage: 20, Count: 1, TotalCount: 1, TotalPages: 1},
		},
		"a name with a trailing dot and capitals finds its zone": {
			query: "?name=Example.COM.", wantNames: "example.com",
			wantInfo: ResultInfo{Page: 1, PerPage: 20, Count: 1, TotalCount: 1, TotalPages: 1},
		},
		"a name the account does not have finds nothing": {
			query: "?name=example.net", wantNames: "",
			wantInfo: ResultInfo{Page: 1, PerPage: 20, Count: 0, TotalCount: 0, TotalPages: 0},
		},
		"starts_with is an operator": {
			query: "?name=starts_with:z5&per_page=50", wantNames: "z50.test,z51.test,z52.test,z53.test,z54.test,z55.test,z56.test,z57.test,z58.test,z59.test",
			wantInfo: ResultInfo{Page: 1, PerPage: 50, Count: 10, TotalCount: 10, TotalPages: 1},
		},
		"per_page is capped at 50": {
			query:    "?per_page=500&page=2",
			wantInfo: ResultInfo{Page: 2, PerPage: 50, Count: 11, TotalCount: 61, TotalPages: 2},
		},
		"another account's ID finds nothing": {
			query:    "?account.id=ffffffffffffffffffffffffffffffff",
			wantInfo: ResultInfo{Page: 1, PerPage: 20, Count: 0, TotalCount: 0, TotalPages: 0},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := f.mustOK(t, "GET", "/zones"+tc.query, testMaster, nil)
			if *r.Info != tc.wantInfo {
				t.Fatalf("result_info %+v, want %+v", *r.Info, tc.wantInfo)
			}
			if tc.wantNames == "" && tc.wantInfo.Count > 0 {
				return
			}
			var names []string
			for _, z := range decode[[]wire.ZoneJSON](t, r.Result) {
				names = append(names, z.Name)
			}
			if strings.Join(names, ",") != tc.wantNames {
				t.Fatalf("zones %v", names)
			}
		})
	}
}

// TestConcurrentUse drives every kind of request at once; run with -race.
func TestConcurrentUse(t *testing.T) {
	f := newFixture(t)
	udpAddr, _ := serveDNS(t, f.srv)
	zid := f.srv.ZoneID("example.com")
	// Errorf, not Fatalf: these run off the test goroutine.
	do := func(method, path, token string, body any) (apiResp, bool) {
		r := f.call(t, method, path, token, body)
		if r.Status != 200 {
			t.Errorf("%s %s: %d %+v", method, path, r.Status, r.Errors)
			return r, false
		}
		return r, true
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				name := fmt.Sprintf("w%d-%d", w, i)
				switch i % 4 {
				case 0:
					do("POST", "/zones/"+zid+"/dns_records", testMaster, map[string]any{"type": "TXT", "name": name, "content": "v"})
				case 1:
					do("GET", "/zones/"+zid+"/dns_records?per_page=5", testMaster, nil)
				case 2:
					do("POST", "/zones/"+zid+"/dns_records/batch", testMaster, map[string]any{
						"posts": []map[string]any{{"type": "A", "name": name, "content": "192.0.2.1"}},
					})
				case 3:
					r, ok := do("POST", "/accounts/"+testAccount+"/tokens", testMaster, map[string]any{
						"name": name, "policies": []map[string]any{{"effect": "allow", "permission_groups": []map[string]string{{"id": PermZoneRead}}, "resources": zoneRes(zid)}},
					})
					var tok tokenJSON
					if !ok || json.Unmarshal(r.Result, &tok) != nil {
						continue
					}
					do("GET", "/zones/"+zid, tok.Value, nil)
					do("DELETE", "/accounts/"+testAccount+"/tokens/"+tok.ID, testMaster, nil)
				}
				m := new(dns.Msg)
				m.SetQuestion(name+".example.com.", dns.TypeANY)
				if _, _, err := (&dns.Client{}).Exchange(m, udpAddr); err != nil {
					t.Error(err)
				}
				_ = f.srv.Records("example.com")
				_ = f.srv.Tokens()
			}
		}(w)
	}
	wg.Wait()
	if n := len(f.srv.Records("example.com")); n != 8*10 {
		t.Fatalf("%d records, want 80", n)
	}
	if n := len(f.srv.Tokens()); n != 1 {
		t.Fatalf("%d tokens left, want the master only", n)
	}
}
