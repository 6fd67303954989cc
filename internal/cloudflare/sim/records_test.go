package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestEnvelopeShape(t *testing.T) {
	f := newFixture(t)
	zid := f.srv.ZoneID("example.com")
	cases := map[string]struct {
		method, path string
		token        string
		wantStatus   int
		wantInfo     bool
	}{
		"a list carries result_info": {
			method: "GET", path: "/zones/" + zid + "/dns_records", token: testMaster, wantStatus: 200, wantInfo: true,
		},
		"a single object has no result_info": {
			method: "GET", path: "/zones/" + zid, token: testMaster, wantStatus: 200,
		},
		"an error has success false and a null result": {
			method: "GET", path: "/zones/" + zid, token: "not-a-known-token-value", wantStatus: 401,
		},
		"an unknown path answers no route": {
			method: "GET", path: "/nothing/here", token: testMaster, wantStatus: 404,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := f.call(t, tc.method, tc.path, tc.token, nil)
			if r.Status != tc.wantStatus {
				t.Fatalf("status %d, want %d (%+v)", r.Status, tc.wantStatus, r.Errors)
			}
			for _, k := range []string{"success", "errors", "messages", "result"} {
				if _, ok := r.Raw[k]; !ok {
					t.Errorf("envelope has no %q: %v", k, r.Raw)
				}
			}
			if r.Success != (tc.wantStatus == 200) {
				t.Errorf("success = %v", r.Success)
			}
			if tc.wantStatus != 200 {
				if string(r.Result) != "null" || len(r.Errors) == 0 || r.Errors[0].Message == "" {
					t.Errorf("error envelope: result %s errors %+v", r.Result, r.Errors)
				}
			}
			_, hasInfo := r.Raw["result_info"]
			if hasInfo != tc.wantInfo {
				t.Errorf("result_info present = %v, want %v", hasInfo, tc.wantInfo)
			}
			if tc.wantInfo {
				info := decode[map[string]int](t, r.Raw["result_info"])
				for _, k := range []string{"page", "per_page", "count", "total_count", "total_pages"} {
					if _, ok := info[k]; !ok {
						t.Errorf("result_info has no %q", k)
					}
				}
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestRecordPagination(t *testing.T) {
	f := newFixture(t)
	zid := f.srv.ZoneID("example.com")
	for i := 0; i < 250; i++ {
		if _, err := f.srv.AddRecord("example.com", Record{Name: fmt.Sprintf("h%03d", i), Type: "A", Content: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string]struct {
		query                string
		wantCount, wantPage  int
		wantPerPage, wantPgs int
		wantFirst            string
	}{
		"the default page holds 100 records":        {query: "", wantCount: 100, wantPage: 1, wantPerPage: 100, wantPgs: 3, wantFirst: "h000.example.com"},
		"the last page holds the remainder":         {query: "?page=3", wantCount: 50, wantPage: 3, wantPerPage: 100, wantPgs: 3, wantFirst: "h200.example.com"},
		"a page past the end is empty":              {query: "?page=4", wantCount: 0, wantPage: 4, wantPerPage: 100, wantPgs: 3},
		"per_page picks the page size":              {query: "?per_page=40&page=2", wantCount: 40, wantPage: 2, wantPerPage: 40, wantPgs: 7, wantFirst: "h040.example.com"},
		"per_page below the minimum is raised to 5": {query: "?per_page=1", wantCount: 5, wantPage: 1, wantPerPage: 5, wantPgs: 50, wantFirst: "h000.example.com"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := f.mustOK(t, "GET", "/zones/"+zid+"/dns_records"+tc.query, testMaster, nil)
			recs := decode[[]rec](t, r.Result)
			want := ResultInfo{Page: tc.wantPage, PerPage: tc.wantPerPage, Count: tc.wantCount, TotalCount: 250, TotalPages: tc.wantPgs}
			if *r.Info != want || len(recs) != tc.wantCount {
				t.Fatalf("result_info %+v with %d records, want %+v", *r.Info, len(recs), want)
			}
			if tc.wantFirst != "" && recs[0].Name != tc.wantFirst {
				t.Errorf("first record %s, want %s", recs[0].Name, tc.wantFirst)
			}
		})
	}
	t.Run("walking every page sees every record once", func(t *testing.T) {
		seen := map[string]bool{}
		for page := 1; ; page++ {
			r := f.mustOK(t, "GET", fmt.Sprintf("/zones/%s/dns_records?per_page=70&page=%d", zid, page), testMaster, nil)
			recs := decode[[]rec](t, r.Result)
			if len(recs) == 0 {
				break
			}
			for _, x := range recs {
				if seen[x.ID] {
					t.Fatalf("record %s seen twice", x.ID)
				}
				seen[x.ID] = true
			}
		}
		if len(seen) != 250 {
			t.Fatalf("saw %d records, want 250", len(seen))
		}
	})
}

func TestRecordListFilters(t *testing.T) {
	f := newFixture(t)
	zid := f.srv.ZoneID("example.com")
	for _, r := range []Record{
		{Name: "_acme-challenge.a", Type: "TXT", Content: "token-one", Comment: "scopedns: owner=team-a"},
		{Name: "_acme-challenge.a", Type: "TXT", Content: "token-two"},
		{Name: "www", Type: "A", Content: "192.0.2.10", Comment: "scopedns: owner=team-b"},
		{Name: "www", Type: "AAAA", Content: "2001:db8::10"},
		{Name: "api", Type: "CNAME", Content: "www.example.com", Comment: "manual"},
	} {
		if _, err := f.srv.AddRecord("example.com", r); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string]struct {
		query string
		want  []string // "type name content"
	}{
		"name matches the full name exactly": {
			query: "name=www.example.com",
			want:  []string{"A www.example.com 192.0.2.10", "AAAA www.example.com 2001:db8::10"},
		},
		"name.exact ignores case and a trailing dot": {
			query: "name.exact=WWW.Example.COM.&type=A",
			want:  []string{"A www.example.com 192.0.2.10"},
		},
		"type and name together find the challenge records": {
			query: "type=TXT&name=_acme-challenge.a.example.com",
			want:  []string{"TXT _acme-challenge.a.example.com token-one", "TXT _acme-challenge.a.example.com token-two"},
		},
		"comment.startswith finds the operator's records": {
			query: "comment.startswith=scopedns:",
			want:  []string{"A www.example.com 192.0.2.10", "TXT _acme-challenge.a.example.com token-one"},
		},
		"comment.exact is case-insensitive": {
			query: "comment.exact=MANUAL",
			want:  []string{"CNAME api.example.com www.example.com"},
		},
		"comment.absent finds records without a comment": {
			query: "comment.absent=&type=TXT",
			want:  []string{"TXT _acme-challenge.a.example.com token-two"},
		},
		"content.contains matches part of the content": {
			query: "content.contains=db8",
			want:  []string{"AAAA www.example.com 2001:db8::10"},
		},
		"name.endswith selects a subtree": {
			query: "name.endswith=.a.example.com",
			want:  []string{"TXT _acme-challenge.a.example.com token-one", "TXT _acme-challenge.a.example.com token-two"},
		},
		"match any joins filters with or": {
			query: "match=any&type=CNAME&content=192.0.2.10",
			want:  []string{"A www.example.com 192.0.2.10", "CNAME api.example.com www.example.com"},
		},
		"a name that does not exist finds nothing": {
			query: "name=nothing.example.com",
			want:  nil,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := f.mustOK(t, "GET", "/zones/"+zid+"/dns_records?"+tc.query, testMaster, nil)
			var got []string
			for _, x := range decode[[]rec](t, r.Result) {
				got = append(got, x.Type+" "+x.Name+" "+x.Content)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestRecordValidation(t *testing.T) {
	cases := map[string]struct {
		existing  []Record
		body      map[string]any
		wantCode  int
		wantChain int
		wantName  string
	}{
		"a TTL of 1 means automatic":                                      {body: map[string]any{"type": "A", "name": "a", "content": "192.0.2.1", "ttl": 1}, wantName: "a.example.com"},
		"a TTL of 60 is the minimum":                                      {body: map[string]any{"type": "A", "name": "a", "content": "192.0.2.1", "ttl": 60}, wantName: "a.example.com"},
		"a TTL of 30 is refused":                                          {body: map[string]any{"type": "A", "name": "a", "content": "192.0.2.1", "ttl": 30}, wantCode: CodeDNSValidation, wantChain: CodeInvalidField},
		"a TTL above a day is refused":                                    {body: map[string]any{"type": "A", "name": "a", "content": "192.0.2.1", "ttl": 86401}, wantCode: CodeDNSValidation, wantChain: CodeInvalidField},
		"a comment of 100 characters is accepted":                         {body: map[string]any{"type": "TXT", "name": "c", "content": "x", "comment": strings.Repeat("c", 100)}, wantName: "c.example.com"},
		"a comment of 101 characters is refused":                          {body: map[string]any{"type": "TXT", "name": "c", "content": "x", "comment": strings.Repeat("c", 101)}, wantCode: CodeDNSValidation, wantChain: CodeInvalidField},
		"an A record needs an IPv4 address":                               {body: map[string]any{"type": "A", "name": "a", "content": "2001:db8::1"}, wantCode: CodeDNSValidation, wantChain: CodeInvalidField},
		"an AAAA record needs an IPv6 address":                            {body: map[string]any{"type": "AAAA", "name": "a", "content": "192.0.2.1"}, wantCode: CodeDNSValidation, wantChain: CodeInvalidField},
		"a label longer than 63 is refused":                               {body: map[string]any{"type": "TXT", "name": strings.Repeat("x", 64), "content": "v"}, wantCode: CodeDNSValidation, wantChain: CodeInvalidField},
		"a wildcard is allowed as the first label":                        {body: map[string]any{"type": "A", "name": "*.apps", "content": "192.0.2.1"}, wantName: "*.apps.example.com"},
		"a wildcard inside the name is refused":                           {body: map[string]any{"type": "A", "name": "a.*.apps", "content": "192.0.2.1"}, wantCode: CodeDNSValidation, wantChain: CodeInvalidField},
		"the apex is written as @":                                        {body: map[string]any{"type": "TXT", "name": "@", "content": "v"}, wantName: "example.com"},
		"a full name in the zone is kept":                                 {body: map[string]any{"type": "TXT", "name": "Deep.Sub.Example.com.", "content": "v"}, wantName: "deep.sub.example.com"},
		"a unicode name becomes an A-label":                               {body: map[string]any{"type": "TXT", "name": "bücher", "content": "v"}, wantName: "xn--bcher-kva.example.com"},
		"TXT content of 256 characters is accepted, split in DNS answers": {body: map[string]any{"type": "TXT", "name": "t", "content": strings.Repeat("k", 256)}, wantName: "t.example.com"},
		"TXT content of 2,048 characters is accepted":                     {body: map[string]any{"type": "TXT", "name": "t", "content": strings.Repeat("k", 2048)}, wantName: "t.example.com"},
		"TXT content of 2,049 characters is refused":                      {body: map[string]any{"type": "TXT", "name": "t", "content": strings.Repeat("k", 2049)}, wantCode: CodeDNSValidation, wantChain: CodeInvalidField},
		"a TXT record cannot be proxied":                                  {body: map[string]any{"type": "TXT", "name": "t", "content": "v", "proxied": true}, wantCode: CodeDNSValidation, wantChain: CodeNotProxiable},
		"proxied must be a boolean":                                       {body: map[string]any{"type": "A", "name": "a", "content": "192.0.2.1", "proxied": "yes"}, wantCode: CodeDNSValidation, wantChain: CodeInvalidField},
		"an unsupported type is refused":                                  {body: map[string]any{"type": "LOC", "name": "l", "content": "x"}, wantCode: CodeDNSValidation, wantChain: CodeInvalidField},
		"an MX record needs a priority":                                   {body: map[string]any{"type": "MX", "name": "@", "content": "mx.example.net"}, wantCode: CodeDNSValidation, wantChain: CodeInvalidField},
		"an identical record already exists": {
			existing: []Record{{Name: "dup", Type: "TXT", Content: "same"}},
			body:     map[string]any{"type": "TXT", "name": "dup", "content": "same"}, wantCode: CodeRecordExists,
		},
		"a second TXT value at a name is fine": {
			existing: []Record{{Name: "dup", Type: "TXT", Content: "one"}},
			body:     map[string]any{"type": "TXT", "name": "dup", "content": "two"}, wantName: "dup.example.com",
		},
		"a CNAME cannot join an A record": {
			existing: []Record{{Name: "host", Type: "A", Content: "192.0.2.1"}},
			body:     map[string]any{"type": "CNAME", "name": "host", "content": "elsewhere.example.net"}, wantCode: CodeHostConflict,
		},
		"a CNAME cannot join a TXT record": {
			existing: []Record{{Name: "host", Type: "TXT", Content: "v"}},
			body:     map[string]any{"type": "CNAME", "name": "host", "content": "elsewhere.example.net"}, wantCode: CodeHostConflict,
		},
		"a TXT record cannot join a CNAME": {
			existing: []Record{{Name: "alias", Type: "CNAME", Content: "elsewhere.example.net"}},
			body:     map[string]any{"type": "TXT", "name": "alias", "content": "v"}, wantCode: CodeCNAMEConflict,
		},
		"malformed JSON is refused": {body: nil, wantCode: CodeMalformedJSON},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			for _, r := range tc.existing {
				if _, err := f.srv.AddRecord("example.com", r); err != nil {
					t.Fatal(err)
				}
			}
			var body any = tc.body
			if tc.body == nil {
				body = "{not json"
			}
			r := f.call(t, "POST", "/zones/"+f.srv.ZoneID("example.com")+"/dns_records", testMaster, body)
			if tc.wantCode == 0 {
				if r.Status != 200 {
					t.Fatalf("status %d: %+v", r.Status, r.Errors)
				}
				if got := decode[rec](t, r.Result).Name; got != tc.wantName {
					t.Fatalf("name %q, want %q", got, tc.wantName)
				}
				return
			}
			if r.Status != http.StatusBadRequest || r.code() != tc.wantCode {
				t.Fatalf("status %d errors %+v, want 400 code %d", r.Status, r.Errors, tc.wantCode)
			}
			if tc.wantChain != 0 && (len(r.Errors[0].ErrorChain) == 0 || r.Errors[0].ErrorChain[0].Code != tc.wantChain) {
				t.Fatalf("error chain %+v, want code %d", r.Errors[0].ErrorChain, tc.wantChain)
			}
			if n := len(f.srv.Records("example.com")); n != len(tc.existing) {
				t.Fatalf("zone has %d records after a refused create", n)
			}
		})
	}
}

func TestRecordLifecycle(t *testing.T) {
	f := newFixture(t)
	base := "/zones/" + f.srv.ZoneID("example.com") + "/dns_records"
	created := decode[rec](t, f.mustOK(t, "POST", base, testMaster, map[string]any{
		"type": "TXT", "name": "life", "content": "v1", "ttl": 120, "comment": "keep",
	}).Result)

	got := decode[rec](t, f.mustOK(t, "GET", base+"/"+created.ID, testMaster, nil).Result)
	if got.Content != "v1" || got.TTL != 120 || got.Comment == nil || *got.Comment != "keep" {
		t.Fatalf("get: %+v", got)
	}
	patched := decode[rec](t, f.mustOK(t, "PATCH", base+"/"+created.ID, testMaster, map[string]any{"content": "v2"}).Result)
	if patched.Content != "v2" || patched.TTL != 120 || patched.Comment == nil {
		t.Fatalf("PATCH changed more than content: %+v", patched)
	}
	put := decode[rec](t, f.mustOK(t, "PUT", base+"/"+created.ID, testMaster, map[string]any{
		"type": "TXT", "name": "life", "content": "v3",
	}).Result)
	if put.Content != "v3" || put.TTL != 1 || put.Comment != nil {
		t.Fatalf("PUT must reset what it does not give: %+v", put)
	}
	del := f.mustOK(t, "DELETE", base+"/"+created.ID, testMaster, nil)
	if decode[map[string]string](t, del.Result)["id"] != created.ID {
		t.Fatalf("delete result %s", del.Result)
	}
	for _, m := range []string{"GET", "DELETE", "PATCH"} {
		r := f.call(t, m, base+"/"+created.ID, testMaster, map[string]any{"content": "x"})
		if r.Status != 404 || r.code() != CodeRecordNotFound {
			t.Errorf("%s of a deleted record: %d %+v", m, r.Status, r.Errors)
		}
	}
}

func TestBatchIsAllOrNothing(t *testing.T) {
	f := newFixture(t)
	zid := f.srv.ZoneID("example.com")
	path := "/zones/" + zid + "/dns_records/batch"
	old, _ := f.srv.AddRecord("example.com", Record{Name: "old", Type: "A", Content: "192.0.2.1"})
	keep, _ := f.srv.AddRecord("example.com", Record{Name: "keep", Type: "TXT", Content: "v1"})
	taken, _ := f.srv.AddRecord("example.com", Record{Name: "taken", Type: "TXT", Content: "x"})

	cases := map[string]struct {
		body     map[string]any
		wantCode int
	}{
		"a duplicate post undoes the delete before it": {
			body: map[string]any{
				"deletes": []map[string]any{{"id": old.ID}},
				"posts":   []map[string]any{{"type": "TXT", "name": "taken", "content": "x"}},
			},
			wantCode: CodeRecordExists,
		},
		"a patch of an unknown record undoes the posts": {
			body: map[string]any{
				"patches": []map[string]any{{"id": "0000000000000000000000000000dead", "content": "x"}},
				"posts":   []map[string]any{{"type": "TXT", "name": "fresh", "content": "y"}},
			},
			wantCode: CodeRecordNotFound,
		},
		"an invalid post undoes a valid one": {
			body: map[string]any{
				"posts": []map[string]any{
					{"type": "TXT", "name": "fresh", "content": "y"},
					{"type": "A", "name": "bad", "content": "not-an-ip"},
				},
			},
			wantCode: CodeDNSValidation,
		},
	}
	before := f.srv.Records("example.com")
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := f.call(t, "POST", path, testMaster, tc.body)
			if r.Status != 400 && r.Status != 404 || r.code() != tc.wantCode {
				t.Fatalf("status %d errors %+v, want code %d", r.Status, r.Errors, tc.wantCode)
			}
			if after := f.srv.Records("example.com"); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("a failed batch changed the zone:\n%v\n%v", before, after)
			}
		})
	}

	t.Run("deletes run before posts so a name can change type", func(t *testing.T) {
		r := f.mustOK(t, "POST", path, testMaster, map[string]any{
			"deletes": []map[string]any{{"id": old.ID}, {"id": taken.ID}},
			"patches": []map[string]any{{"id": keep.ID, "content": "v2"}},
			"puts":    []map[string]any{},
			"posts": []map[string]any{
				{"type": "CNAME", "name": "old", "content": "keep.example.com"},
				{"type": "TXT", "name": "new", "content": "n"},
			},
		})
		res := decode[map[string][]rec](t, r.Result)
		if len(res["deletes"]) != 2 || len(res["patches"]) != 1 || len(res["posts"]) != 2 || res["patches"][0].Content != "v2" {
			t.Fatalf("batch result %s", r.Result)
		}
		var got []string
		for _, x := range f.srv.Records("example.com") {
			got = append(got, x.Type+" "+x.Name+" "+x.Content)
		}
		want := "TXT keep.example.com v2,TXT new.example.com n,CNAME old.example.com keep.example.com"
		if strings.Join(got, ",") != want {
			t.Fatalf("zone after batch: %v", got)
		}
	})

	t.Run("a batch over the limit is refused whole", func(t *testing.T) {
		f.srv.SetBatchLimit(3)
		t.Cleanup(func() { f.srv.SetBatchLimit(DefaultBatchLimit) })
		var posts []map[string]any
		for i := 0; i < 4; i++ {
			posts = append(posts, map[string]any{"type": "TXT", "name": fmt.Sprintf("n%d", i), "content": "v"})
		}
		r := f.call(t, "POST", path, testMaster, map[string]any{"posts": posts})
		if r.Status != 400 || r.code() != CodeDNSValidation || r.Errors[0].ErrorChain[0].Code != CodeBatchTooLarge {
			t.Fatalf("status %d errors %+v", r.Status, r.Errors)
		}
	})
}

func TestStructuredRecords(t *testing.T) {
	f := newFixture(t)
	base := "/zones/" + f.srv.ZoneID("example.com") + "/dns_records"
	cases := map[string]struct {
		body        map[string]any
		wantContent string
	}{
		"an SRV record from data": {
			body:        map[string]any{"type": "SRV", "name": "_sip._tcp", "data": map[string]any{"priority": 10, "weight": 5, "port": 5060, "target": "sip.example.com"}},
			wantContent: "5 5060 sip.example.com",
		},
		"a CAA record from data": {
			body:        map[string]any{"type": "CAA", "name": "@", "data": map[string]any{"flags": 0, "tag": "issue", "value": "letsencrypt.org"}},
			wantContent: `0 issue "letsencrypt.org"`,
		},
		"a CAA record from content": {
			body:        map[string]any{"type": "CAA", "name": "caa", "content": `128 issuewild "ca.example.net"`},
			wantContent: `128 issuewild "ca.example.net"`,
		},
		"an MX record with its priority": {
			body:        map[string]any{"type": "MX", "name": "@", "content": "MX.Example.net.", "priority": 10},
			wantContent: "mx.example.net",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := decode[rec](t, f.mustOK(t, "POST", base, testMaster, tc.body).Result)
			if got.Content != tc.wantContent {
				t.Fatalf("content %q, want %q", got.Content, tc.wantContent)
			}
		})
	}
}

func TestStructuredRecordsInBatches(t *testing.T) {
	f := newFixture(t)
	path := "/zones/" + f.srv.ZoneID("example.com") + "/dns_records/batch"
	res := decode[map[string][]json.RawMessage](t, f.mustOK(t, "POST", path, testMaster, map[string]any{
		"posts": []map[string]any{
			{"type": "MX", "name": "@", "content": "mx.example.net", "priority": 10},
			{"type": "MX", "name": "null", "content": ".", "priority": 0},
			{"type": "SRV", "name": "_sip._tcp", "data": map[string]any{"priority": 10, "weight": 0, "port": 5060, "target": "sip.example.com"}},
			{"type": "SRV", "name": "_imap._tcp", "data": map[string]any{"priority": 0, "weight": 0, "port": 0, "target": "."}},
			{"type": "CAA", "name": "@", "data": map[string]any{"flags": 0, "tag": "issue", "value": "ca.example.net; account=1"}},
		},
	}).Result)
	wantPosts := []string{
		`"content":"mx.example.net"`, `"priority":10`,
		`"content":"."`, `"priority":0`,
		`"data":{"priority":10,"weight":0,"port":5060,"target":"sip.example.com"}`,
		`"data":{"priority":0,"weight":0,"port":0,"target":"."}`,
		`"data":{"flags":0,"tag":"issue","value":"ca.example.net; account=1"}`,
	}
	var all strings.Builder
	for _, p := range res["posts"] {
		all.Write(p)
		all.WriteByte('\n')
	}
	for _, want := range wantPosts {
		if !strings.Contains(all.String(), want) {
			t.Errorf("batch posts answer lacks %s:\n%s", want, all.String())
		}
	}
	if srv, caa := string(res["posts"][2]), string(res["posts"][4]); strings.Contains(srv, `"flags"`) || strings.Contains(caa, `"target"`) {
		t.Errorf("data carries another type's fields:\n%s\n%s", srv, caa)
	}
	mx := decode[rec](t, res["posts"][0])

	t.Run("a PUT of an MX record needs its priority like a POST", func(t *testing.T) {
		r := f.call(t, "POST", path, testMaster, map[string]any{
			"puts": []map[string]any{{"id": mx.ID, "type": "MX", "name": "@", "content": "mx2.example.net"}},
		})
		if r.Status != 400 || r.code() != CodeDNSValidation {
			t.Fatalf("status %d errors %+v, want a validation error", r.Status, r.Errors)
		}
	})
	t.Run("a PUT of an MX record with its priority replaces both", func(t *testing.T) {
		r := decode[map[string][]rec](t, f.mustOK(t, "POST", path, testMaster, map[string]any{
			"puts": []map[string]any{{"id": mx.ID, "type": "MX", "name": "@", "content": "mx2.example.net", "priority": 20}},
		}).Result)
		if got := r["puts"][0]; got.Content != "mx2.example.net" || got.Priority == nil || *got.Priority != 20 {
			t.Fatalf("put answered %+v", got)
		}
	})
	t.Run("a PATCH of an MX record's content keeps its priority", func(t *testing.T) {
		r := decode[map[string][]rec](t, f.mustOK(t, "POST", path, testMaster, map[string]any{
			"patches": []map[string]any{{"id": mx.ID, "content": "mx3.example.net"}},
		}).Result)
		if got := r["patches"][0]; got.Content != "mx3.example.net" || got.Priority == nil || *got.Priority != 20 {
			t.Fatalf("patch answered %+v", got)
		}
	})
}
