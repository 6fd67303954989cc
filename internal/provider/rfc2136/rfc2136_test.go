package rfc2136_test

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/rfc2136"
	"github.com/scopedns/scopedns/internal/testdns"
)

const owner = "scopedns:test:team-a/web"

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// nsupdate writes to the server as someone else would: Debian's nsupdate,
// with the master key, outside the provider.
func nsupdate(t *testing.T, s *testdns.Server, commands ...string) {
	t.Helper()
	bin := testdns.Binary(t, "nsupdate", "bind9-dnsutils")
	script := fmt.Sprintf("server %s %s\nzone %s\n%s\nsend\n", s.Host(), s.Port(), zoneA, strings.Join(commands, "\n"))
	cmd := exec.Command(bin, "-v", "-y", "hmac-sha256:"+master.Name+":"+master.Secret)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nsupdate: %v\n%s", err, out)
	}
}

func each(t *testing.T, run func(t *testing.T, s *testdns.Server)) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) { run(t, srv.start(t, config())) })
	}
}

func TestRecordsAreWhatDigSees(t *testing.T) {
	each(t, func(t *testing.T, s *testdns.Server) {
		p := connect(t, s, master)
		recs := []provider.Record{
			{Name: "web." + zoneA, Type: "A", Content: "192.0.2.10", TTL: 120, Comment: owner},
			{Name: "web." + zoneA, Type: "A", Content: "192.0.2.11", TTL: 120, Comment: owner},
			{Name: "_acme-challenge.web." + zoneA, Type: "TXT", Content: "token-value", TTL: 60, Comment: owner},
			{Name: "alias." + zoneA, Type: "CNAME", Content: "web." + zoneA, TTL: 1, Comment: owner},
		}
		if _, err := p.ApplyChanges(ctx(t), zoneA, provider.Changes{Create: recs}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name, typ string
			want      []string
		}{
			{"web." + zoneA, "A", []string{"192.0.2.10", "192.0.2.11"}},
			{"_acme-challenge.web." + zoneA, "TXT", []string{`"token-value"`}},
			{"alias." + zoneA, "CNAME", []string{"web." + zoneA + "."}},
		} {
			got := testdns.Dig(t, s, c.name, c.typ)
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Errorf("dig %s %s = %q, want %q", c.name, c.typ, got, c.want)
			}
		}
		reg := testdns.Dig(t, s, "_scopedns.web."+zoneA, "TXT")
		if len(reg) != 2 {
			t.Fatalf("the registry of web.%s holds %q, want two entries", zoneA, reg)
		}
		for _, line := range reg {
			if !strings.HasPrefix(line, `"scopedns/1 id=`) || !strings.Contains(line, " type=A ") || !strings.HasSuffix(line, " comment="+owner+`"`) {
				t.Errorf("registry entry %s is not in the documented format", line)
			}
		}
		// The automatic TTL is written as the default and read back as 1.
		if r := testdns.Query(t, s, "alias."+zoneA, 5 /* CNAME */); len(r.Answer) != 1 || r.Answer[0].Header().Ttl != 300 {
			t.Errorf("alias answers %v, want one CNAME with TTL 300", r.Answer)
		}
		got, err := p.Records(ctx(t), zoneA, provider.RecordFilter{Owner: owner})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(recs) {
			t.Fatalf("read back %v, want %d records", got, len(recs))
		}
		for _, r := range got {
			if r.Name == "alias."+zoneA && r.TTL != 1 {
				t.Errorf("the automatic-TTL record reads back with TTL %d, want 1", r.TTL)
			}
		}
	})
}

func TestForeignRecordsAreNeverTouched(t *testing.T) {
	each(t, func(t *testing.T, s *testdns.Server) {
		p := connect(t, s, master)
		res, err := p.ApplyChanges(ctx(t), zoneA, provider.Changes{Create: []provider.Record{
			{Name: "shared." + zoneA, Type: "A", Content: "192.0.2.1", TTL: 300, Comment: owner},
		}})
		if err != nil {
			t.Fatal(err)
		}
		// Someone adds a value to the owned RRset, and a record of their own.
		nsupdate(t, s, "update add shared."+zoneA+" 300 A 192.0.2.99", "update add hand."+zoneA+" 300 TXT by-hand")

		all, err := p.Records(ctx(t), zoneA, provider.RecordFilter{Name: "shared." + zoneA})
		if err != nil {
			t.Fatal(err)
		}
		var foreign provider.Record
		for _, r := range all {
			if r.Content == "192.0.2.99" {
				foreign = r
			}
		}
		if foreign.ID == "" || foreign.Comment != "" {
			t.Fatalf("the hand-written value reads as %+v, want a record without an owner", foreign)
		}
		if _, err := p.ApplyChanges(ctx(t), zoneA, provider.Changes{Delete: res.Created}); err != nil {
			t.Fatal(err)
		}
		if got := testdns.Dig(t, s, "shared."+zoneA, "A"); !slices.Equal(got, []string{"192.0.2.99"}) {
			t.Fatalf("after deleting the owned value, dig shared A = %q, want only the foreign 192.0.2.99", got)
		}
		if got := testdns.Dig(t, s, "hand."+zoneA, "TXT"); !slices.Equal(got, []string{`"by-hand"`}) {
			t.Fatalf("dig hand TXT = %q, want the foreign record", got)
		}
		if got := testdns.Dig(t, s, "_scopedns.shared."+zoneA, "TXT"); len(got) != 0 {
			t.Fatalf("the deleted record's registry entry is still there: %q", got)
		}
	})
}

func TestAChangeMadeSinceTheReadFailsTheBatchInsteadOfBeingOverwritten(t *testing.T) {
	each(t, func(t *testing.T, s *testdns.Server) {
		p := connect(t, s, master)
		res, err := p.ApplyChanges(ctx(t), zoneA, provider.Changes{Create: []provider.Record{
			{Name: "race." + zoneA, Type: "TXT", Content: "v1", TTL: 300, Comment: owner},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Records(ctx(t), zoneA, provider.RecordFilter{}); err != nil {
			t.Fatal(err)
		}
		// Meanwhile someone else adds to the same RRset.
		nsupdate(t, s, "update add race."+zoneA+" 300 TXT foreign")
		next := res.Created[0]
		next.Content = "v2"
		_, err = p.ApplyChanges(ctx(t), zoneA, provider.Changes{UpdateOld: res.Created, UpdateNew: []provider.Record{next}})
		if !provider.IsConflict(err) {
			t.Fatalf("updating an RRset someone changed since the read: err = %v, want conflict", err)
		}
		got := testdns.Dig(t, s, "race."+zoneA, "TXT")
		slices.Sort(got)
		if want := []string{`"foreign"`, `"v1"`}; !slices.Equal(got, want) {
			t.Fatalf("after the refused batch dig race TXT = %q, want %q", got, want)
		}
		// Read again, the same update goes through and leaves the foreign value.
		if _, err := p.ApplyChanges(ctx(t), zoneA, provider.Changes{UpdateOld: res.Created, UpdateNew: []provider.Record{next}}); err != nil {
			t.Fatalf("the update after a fresh read: %v", err)
		}
		got = testdns.Dig(t, s, "race."+zoneA, "TXT")
		slices.Sort(got)
		if want := []string{`"foreign"`, `"v2"`}; !slices.Equal(got, want) {
			t.Fatalf("dig race TXT = %q, want %q", got, want)
		}
	})
}

func TestAnIdenticalForeignRecordIsNotAdopted(t *testing.T) {
	each(t, func(t *testing.T, s *testdns.Server) {
		p := connect(t, s, master)
		nsupdate(t, s, "update add twin."+zoneA+" 300 TXT same")
		_, err := p.ApplyChanges(ctx(t), zoneA, provider.Changes{Create: []provider.Record{
			{Name: "twin." + zoneA, Type: "TXT", Content: "same", TTL: 300, Comment: owner},
		}})
		if !provider.IsConflict(err) {
			t.Fatalf("creating a record identical to a foreign one: err = %v, want conflict", err)
		}
		if got := testdns.Dig(t, s, "_scopedns.twin."+zoneA, "TXT"); len(got) != 0 {
			t.Fatalf("the foreign record was registered as owned: %q", got)
		}
	})
}

func TestKeysTheServerRefusesAreReportedAsForbidden(t *testing.T) {
	each(t, func(t *testing.T, s *testdns.Server) {
		p := connect(t, s, reader)
		if err := p.Verify(ctx(t)); err != nil {
			t.Fatalf("Verify with a key the server knows: %v", err)
		}
		if _, err := p.Records(ctx(t), zoneA, provider.RecordFilter{}); !provider.IsForbidden(err) || !strings.Contains(err.Error(), "transfer") {
			t.Errorf("transferring with a key allow-transfer does not name: err = %v, want forbidden, naming the transfer", err)
		}
		if err := p.CheckWritable(ctx(t), zoneA); !provider.IsForbidden(err) {
			t.Errorf("CheckWritable with a key the update-policy does not name: err = %v, want forbidden", err)
		}
		if err := connect(t, s, master).CheckWritable(ctx(t), zoneA); err != nil {
			t.Errorf("CheckWritable with the master key: %v", err)
		}
		wrong := connect(t, s, testdns.Key{Name: master.Name, Secret: reader.Secret})
		if err := wrong.Verify(ctx(t)); !provider.IsForbidden(err) || !strings.Contains(err.Error(), "NOTAUTH") {
			t.Errorf("Verify with a wrong secret: err = %v, want forbidden (NOTAUTH)", err)
		}
	})
}

func TestAnUnreachableServerIsRetryable(t *testing.T) {
	p, err := rfc2136.New(rfc2136.Options{Server: "127.0.0.1:1", KeyName: master.Name, Algorithm: "hmac-sha512", Secret: provider.Secret(master.Secret), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(ctx(t)); !provider.IsRetryable(err) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("Verify against a closed port: err = %v, want retryable, naming the server", err)
	}
}

func TestOneUpdatePerBatch(t *testing.T) {
	each(t, func(t *testing.T, s *testdns.Server) {
		var mu sync.Mutex
		calls := map[string]int{}
		p := connect(t, s, master, func(o *rfc2136.Options) {
			o.BatchSize = 200
			o.Observer = func(op, _ string, _ time.Duration) { mu.Lock(); calls[op]++; mu.Unlock() }
		})
		var recs []provider.Record
		for i := range 450 {
			recs = append(recs, provider.Record{Name: fmt.Sprintf("n%03d.bulk.%s", i, zoneA), Type: "TXT", Content: "v", TTL: 300, Comment: owner})
		}
		res, err := p.ApplyChanges(ctx(t), zoneA, provider.Changes{Create: recs})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Created) != 450 {
			t.Fatalf("created %d", len(res.Created))
		}
		if calls[provider.OpRecordsBatch] != 3 {
			t.Fatalf("450 creates in batches of 200 took %d UPDATE messages, want 3", calls[provider.OpRecordsBatch])
		}
		got, err := p.Records(ctx(t), zoneA, provider.RecordFilter{Owner: owner})
		if err != nil || len(got) != 450 {
			t.Fatalf("read back %d records (err %v), want 450", len(got), err)
		}
	})
}

func TestOptionsAreChecked(t *testing.T) {
	cases := map[string]struct {
		opts rfc2136.Options
		want string
	}{
		"a server without a port is refused": {rfc2136.Options{Server: "ns1", KeyName: "k", Algorithm: "HMACSHA256", Secret: "c2VjcmV0"}, `server "ns1" is not host:port`},
		"MD5 is refused":                     {rfc2136.Options{Server: "ns1:53", KeyName: "k", Algorithm: "hmac-md5", Secret: "c2VjcmV0"}, `TSIG algorithm "hmac-md5" is not HMACSHA256 or HMACSHA512`},
		"a secret that is not base64 is refused, without showing it": {rfc2136.Options{Server: "ns1:53", KeyName: "k", Algorithm: "HMACSHA512", Secret: "not base64!"}, "the TSIG secret is not base64"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := rfc2136.New(c.opts)
			if !provider.IsInvalid(err) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want invalid with %q", err, c.want)
			}
			if strings.Contains(err.Error(), "not base64!") {
				t.Fatal("the error shows the secret")
			}
		})
	}
}

func TestNobodyWritesAtRegistryNames(t *testing.T) {
	each(t, func(t *testing.T, s *testdns.Server) {
		p := connect(t, s, master)
		for _, name := range []string{"_scopedns.web." + zoneA, "_scopedns." + zoneA, "_SCOPEDNS.x." + zoneA} {
			_, err := p.ApplyChanges(ctx(t), zoneA, provider.Changes{Create: []provider.Record{
				{Name: name, Type: "TXT", Content: "scopedns/1 id=0123456789abcdef0123456789abcdef type=A data=0123456789abcdef ttl=300 comment=" + owner, TTL: 300},
			}})
			if !provider.IsInvalid(err) {
				t.Errorf("writing at %s: err = %v, want invalid", name, err)
			}
			if got := testdns.Dig(t, s, name, "TXT"); len(got) != 0 {
				t.Errorf("%s holds %q after the refusal", name, got)
			}
		}
	})
}

func TestCheckingAZoneChangesNothing(t *testing.T) {
	each(t, func(t *testing.T, s *testdns.Server) {
		before := testdns.Dig(t, s, zoneA, "SOA")
		if err := connect(t, s, master).CheckZone(ctx(t), zoneA); err != nil {
			t.Fatalf("CheckZone with the master key: %v", err)
		}
		if after := testdns.Dig(t, s, zoneA, "SOA"); !slices.Equal(before, after) {
			t.Fatalf("the probe moved the zone: SOA %q, then %q", before, after)
		}
	})
}
