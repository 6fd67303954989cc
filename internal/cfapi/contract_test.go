package cfapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/scopedns/scopedns/internal/cfapi"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

// The contract: the same requests, sent to the simulator with a token
// allowed the zone and to the front door with a token granted the names,
// get the same envelopes, field by field. Only what is each server's own is
// left out: IDs, timestamps, the account, name servers, and the comment (the
// front door keeps the owner marker to itself).

const contractMaster = "contract-master-token-0123456789"

// target is one side of the contract.
type target struct {
	name, base, token string
	client            *http.Client
	ids               map[string]string // step label -> the record ID it got
}

func contractTargets(t *testing.T) (direct, front *target) {
	t.Helper()
	newSim := func() (*sim.Server, *httptest.Server) {
		s, err := sim.New(sim.Config{Zones: []string{zoneCom}, MasterToken: contractMaster})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(s)
		t.Cleanup(ts.Close)
		return s, ts
	}
	_, directTS := newSim()
	direct = &target{name: "simulator", base: directTS.URL + "/client/v4", token: contractMaster, client: directTS.Client(), ids: map[string]string{}}

	backing, backingTS := newSim()
	p, err := cloudflare.New(cloudflare.Options{AccountID: backing.AccountID(), APIToken: provider.Secret(contractMaster), BaseURL: backingTS.URL + "/client/v4/", HTTPClient: backingTS.Client(), MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	w, err := zonewriter.New(zonewriter.Options{Providers: zonewriter.ProvidersFunc(func(context.Context, string) (zonewriter.Provider, error) { return p, nil })})
	if err != nil {
		t.Fatal(err)
	}
	grants := map[zonewriter.Grant]int32{}
	for _, g := range []zonewriter.Grant{{Name: appA, Type: "A"}, {Name: appA, Type: "TXT"}, {Name: txtA, Type: "TXT"}, {Name: "mx.team-a.example.com", Type: "MX"}, {Name: "_sip._tcp.team-a.example.com", Type: "SRV"}, {Name: "www.team-a.example.com", Type: "CNAME"}} {
		grants[g] = 0
	}
	h, err := cfapi.New(cfapi.Options{Writer: w, Tokens: cfapi.NewTokenStore(cfapi.Token{
		ID: strings.Repeat("c", 32), Values: []string{tokenA},
		Tenant: zonewriter.Tenant{Namespace: "team-a", Scope: "prod", Owner: owner("team-a"), Grants: grants},
		Zones:  []cfapi.Zone{{ID: backing.ZoneID(zoneCom), Name: zoneCom}},
	})})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(cfapi.Prefix, h)
	frontTS := httptest.NewServer(mux)
	t.Cleanup(frontTS.Close)
	front = &target{name: "front door", base: frontTS.URL + "/client/v4", token: tokenA, client: frontTS.Client(), ids: map[string]string{}}
	// Both sides name the zone by their own ID.
	direct.ids["zone"] = zoneIDOf(t, direct)
	front.ids["zone"] = zoneIDOf(t, front)
	return direct, front
}

func zoneIDOf(t *testing.T, tg *target) string {
	t.Helper()
	_, body := tg.do(t, "GET", "/zones?name="+zoneCom, "", tg.bearer())
	var env struct {
		Result []struct{ ID string } `json:"result"`
	}
	if err := json.Unmarshal(body, &env); err != nil || len(env.Result) != 1 {
		t.Fatalf("%s: zone %s not listed: %s", tg.name, zoneCom, body)
	}
	return env.Result[0].ID
}

func (tg *target) bearer() http.Header { return http.Header{"Authorization": {"Bearer " + tg.token}} }

var placeholder = regexp.MustCompile(`\{([a-z0-9-]+)\}`)

// do sends one request with the headers h, placeholders in path and body
// replaced by this side's IDs.
func (tg *target) do(t *testing.T, method, path, body string, h http.Header) (int, []byte) {
	t.Helper()
	path = placeholder.ReplaceAllStringFunc(path, func(m string) string { return tg.ids[strings.Trim(m, "{}")] })
	body = placeholder.ReplaceAllStringFunc(body, func(m string) string { return tg.ids[strings.Trim(m, "{}")] })
	req, err := http.NewRequest(method, tg.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	resp, err := tg.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// volatile are the fields each server fills in its own way.
var volatile = map[string]bool{
	"id": true, "zone_id": true, "created_on": true, "modified_on": true, "comment_modified_on": true,
	"activated_on": true, "account": true, "name_servers": true, "comment": true, "permissions": true,
}

// diff lists where two decoded JSON values differ, ignoring volatile keys.
func diff(path string, a, b any) []string {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: object vs %T", path, b)}
		}
		keys := map[string]bool{}
		for k := range av {
			keys[k] = true
		}
		for k := range bv {
			keys[k] = true
		}
		var out []string
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			if volatile[k] {
				continue
			}
			x, inA := av[k]
			y, inB := bv[k]
			if inA != inB {
				out = append(out, fmt.Sprintf("%s.%s: present %v vs %v", path, k, inA, inB))
				continue
			}
			out = append(out, diff(path+"."+k, x, y)...)
		}
		return out
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return []string{fmt.Sprintf("%s: %v vs %v", path, a, b)}
		}
		var out []string
		for i := range av {
			out = append(out, diff(fmt.Sprintf("%s[%d]", path, i), av[i], bv[i])...)
		}
		return out
	}
	if !reflect.DeepEqual(a, b) {
		return []string{fmt.Sprintf("%s: %v vs %v", path, a, b)}
	}
	return nil
}

func TestTheFrontDoorAnswersAsTheSimulatorDoes(t *testing.T) {
	direct, front := contractTargets(t)
	recs := "/zones/{zone}/dns_records"
	steps := []struct {
		name, method, path, body string
		authz                    string // default: each side's bearer token
		save                     string // remember result.id under this label
	}{
		{name: "the zone by name", method: "GET", path: "/zones?name=" + zoneCom},
		{name: "the zone", method: "GET", path: "/zones/{zone}"},
		{name: "an A record", method: "POST", path: recs, body: `{"type":"A","name":"` + appA + `","content":"192.0.2.1","ttl":1}`, save: "a"},
		{name: "the same record again", method: "POST", path: recs, body: `{"type":"A","name":"` + appA + `","content":"192.0.2.1","ttl":1}`},
		{name: "a second A value, relative name", method: "POST", path: recs, body: `{"type":"A","name":"app.team-a","content":"192.0.2.2","ttl":120}`, save: "a2"},
		{name: "a TXT at the same name", method: "POST", path: recs, body: `{"type":"TXT","name":"` + appA + `","content":"\"v=spf1 -all\"","ttl":300}`},
		{name: "an MX", method: "POST", path: recs, body: `{"type":"MX","name":"mx.team-a.example.com","content":"mail.example.com","priority":10,"ttl":3600}`},
		{name: "an SRV by data", method: "POST", path: recs, body: `{"type":"SRV","name":"_sip._tcp.team-a.example.com","data":{"priority":10,"weight":5,"port":5060,"target":"sip.example.com"},"ttl":600}`},
		{name: "a CNAME beside an A", method: "POST", path: recs, body: `{"type":"CNAME","name":"` + appA + `","content":"elsewhere.example.com"}`},
		{name: "a bad IPv4 address", method: "POST", path: recs, body: `{"type":"A","name":"` + appA + `","content":"192.0.2.300"}`},
		{name: "a TTL below 60", method: "POST", path: recs, body: `{"type":"A","name":"` + appA + `","content":"192.0.2.3","ttl":30}`},
		{name: "a TTL of the wrong type", method: "POST", path: recs, body: `{"type":"A","name":"` + appA + `","content":"192.0.2.3","ttl":"300"}`},
		{name: "malformed JSON", method: "POST", path: recs, body: `{"type":`},
		{name: "an MX without priority", method: "POST", path: recs, body: `{"type":"MX","name":"mx.team-a.example.com","content":"mail2.example.com"}`},
		{name: "the list, filtered by exact name and type", method: "GET", path: recs + "?type=A&name.exact=" + appA},
		{name: "the list, ordered by content descending", method: "GET", path: recs + "?order=content&direction=desc&per_page=5"},
		{name: "the list, by contains and match=any", method: "GET", path: recs + "?name.contains=mx.team-a&type=SRV&match=any"},
		{name: "the list with a bad match", method: "GET", path: recs + "?match=some"},
		{name: "the record", method: "GET", path: recs + "/{a}"},
		{name: "a record that does not exist", method: "GET", path: recs + "/0123456789abcdef0123456789abcdef"},
		{name: "a TTL-only PATCH", method: "PATCH", path: recs + "/{a}", body: `{"ttl":180}`, save: "a"},
		{name: "a content PATCH", method: "PATCH", path: recs + "/{a}", body: `{"content":"192.0.2.9"}`, save: "a"},
		{name: "a PUT", method: "PUT", path: recs + "/{a}", body: `{"type":"A","name":"` + appA + `","content":"192.0.2.10","ttl":240}`, save: "a"},
		{name: "a PATCH to an existing value", method: "PATCH", path: recs + "/{a}", body: `{"content":"192.0.2.2"}`},
		{name: "a batch", method: "POST", path: recs + "/batch", body: `{"deletes":[{"id":"{a2}"}],"posts":[{"type":"TXT","name":"` + txtA + `","content":"\"heritage=external-dns\"","ttl":1}]}`},
		{name: "a batch with a missing record", method: "POST", path: recs + "/batch", body: `{"deletes":[{"id":"0123456789abcdef0123456789abcdef"}]}`},
		{name: "a batch patch without an id", method: "POST", path: recs + "/batch", body: `{"patches":[{"content":"192.0.2.4"}]}`},
		{name: "a delete", method: "DELETE", path: recs + "/{a}"},
		{name: "the delete again", method: "DELETE", path: recs + "/{a}"},
		{name: "the list at the end", method: "GET", path: recs + "?per_page=50"},
		{name: "no credentials", method: "GET", path: "/zones", authz: "-"},
		{name: "a malformed Authorization header", method: "GET", path: "/zones", authz: "Basic Zm9vOmJhcg=="},
		{name: "the global API key", method: "GET", path: "/zones", authz: "key"},
	}
	for _, st := range steps {
		var got [2]any
		var status [2]int
		for i, tg := range []*target{direct, front} {
			h := tg.bearer()
			switch st.authz {
			case "":
			case "-":
				h = http.Header{}
			case "key": // the global API key, which neither side takes
				h = http.Header{"X-Auth-Email": {"admin@example.com"}, "X-Auth-Key": {"0123456789abcdef"}}
			default:
				h = http.Header{"Authorization": {st.authz}}
			}
			code, body := tg.do(t, st.method, st.path, st.body, h)
			status[i] = code
			if err := json.Unmarshal(body, &got[i]); err != nil {
				t.Fatalf("%s: %s answered no JSON: %s", st.name, tg.name, body)
			}
			if st.save != "" && code == 200 {
				var env struct {
					Result struct{ ID string } `json:"result"`
				}
				_ = json.Unmarshal(body, &env)
				tg.ids[st.save] = env.Result.ID
			}
		}
		if status[0] != status[1] {
			t.Errorf("%s: status %d from the simulator, %d from the front door\n  simulator:  %v\n  front door: %v", st.name, status[0], status[1], got[0], got[1])
			continue
		}
		if d := diff("", got[0], got[1]); len(d) > 0 {
			t.Errorf("%s (%d): the envelopes differ:\n  %s", st.name, status[0], strings.Join(d, "\n  "))
		}
	}
}
