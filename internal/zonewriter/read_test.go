package zonewriter

import (
	"context"
	"testing"

	"github.com/scopedns/scopedns/internal/provider"
)

func TestReadShowsOnlyTheGrantedRRsetsFromTheSnapshot(t *testing.T) {
	f := newFixture(t, Options{})
	mine, shared := "app.team-a.example.com", "shared.example.com"
	if _, err := f.store.Master().ApplyChanges(context.Background(), f.zoneID, provider.Changes{Create: []provider.Record{
		{Name: mine, Type: "A", Content: "192.0.2.1", TTL: 60},
		{Name: shared, Type: "TXT", Content: "team-a's", TTL: 60},
		{Name: shared, Type: "MX", Content: "10 mail.team-b.example.com", TTL: 60},
		{Name: "payroll.example.com", Type: "A", Content: "192.0.2.9", TTL: 60},
	}}); err != nil {
		t.Fatal(err)
	}
	tn := tenant("team-a", Grant{Name: mine, Type: "A"}, Grant{Name: shared, Type: "TXT"}, Grant{Name: "other.example.org", Type: "A"})
	read := func() []provider.Record {
		t.Helper()
		recs, err := f.w.Read(context.Background(), ReadRequest{Tenant: tn, Zone: testZone, ZoneID: f.zoneID})
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	got := read()
	var keys []string
	for _, r := range got {
		if r.ID == "" {
			t.Errorf("record %s has no ID", r)
		}
		keys = append(keys, r.Name+" "+r.Type+" "+r.Content)
	}
	want := []string{"app.team-a.example.com A 192.0.2.1", "shared.example.com TXT team-a's"}
	if len(keys) != len(want) || keys[0] != want[0] || keys[1] != want[1] {
		t.Fatalf("read %q, want only the granted RRsets %q (not team-b's MX at the shared name, nor payroll)", keys, want)
	}
	before := f.store.Calls()[provider.OpRecordsList]
	read()
	if after := f.store.Calls()[provider.OpRecordsList]; after != before {
		t.Fatalf("a second read listed the zone again (%d lists, then %d)", before, after)
	}
}

func TestWriteReturnsTheStoredRecordsWithTheirIDs(t *testing.T) {
	f := newFixture(t, Options{})
	name := "app.team-a.example.com"
	tn := tenant("team-a", Grant{Name: name, Type: "A"})
	res, err := f.write(tn, Op{Kind: Add, Name: name, Type: "A", Content: "192.0.2.1", TTL: 60})
	if err != nil || len(res.Stored) != 1 || res.Stored[0].ID == "" || res.Stored[0].Content != "192.0.2.1" {
		t.Fatalf("created: %+v %v, want the stored record with its ID", res, err)
	}
	id := res.Stored[0].ID
	for _, r := range f.store.Records(testZone) {
		if r.Name == name && r.ID != id {
			t.Fatalf("the store holds %s as %s, the writer answered %s", r, r.ID, id)
		}
	}
}

func TestAnAutomaticTTLIsKeptAndCheckedAsWhatResolversAreTold(t *testing.T) {
	f := newFixture(t, Options{})
	name := "app.team-a.example.com"
	tn := tenant("team-a", Grant{Name: name, Type: "A"})
	write := func(maxTTL int32, auto bool) (Result, error) {
		tn.Grants[Grant{Name: name, Type: "A"}] = maxTTL
		return f.w.Write(context.Background(), Request{Tenant: tn, Zone: testZone, ZoneID: f.zoneID, AutoTTL: auto,
			Ops: []Op{{Kind: Replace, Name: name, Type: "A", Values: []string{"192.0.2.1"}, TTL: 1}}})
	}
	if _, err := write(120, true); codeOf(err) != Refused {
		t.Fatalf("automatic TTL (300 s) under maxTTL 120: %v, want Refused", err)
	}
	res, err := write(300, true)
	if err != nil || len(res.Stored) != 1 || res.Stored[0].TTL != 1 {
		t.Fatalf("automatic TTL under maxTTL 300: %+v %v, want the record stored with TTL 1", res, err)
	}
	// Without AutoTTL a 1 is one second (RFC 2136): raised to MinTTL.
	f2 := newFixture(t, Options{})
	res, err = f2.w.Write(context.Background(), Request{Tenant: tn, Zone: testZone, ZoneID: f2.zoneID,
		Ops: []Op{{Kind: Replace, Name: name, Type: "A", Values: []string{"192.0.2.1"}, TTL: 1}}})
	if err != nil || len(res.Stored) != 1 || res.Stored[0].TTL != defaultMinTTL {
		t.Fatalf("TTL 1 over RFC 2136: %+v %v, want it raised to %d", res, err, defaultMinTTL)
	}
}
