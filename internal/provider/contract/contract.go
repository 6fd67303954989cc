// Package contract is the behaviour every provider.Provider must show, as a
// reusable test suite: the memory provider, the Cloudflare provider against the
// simulator, and the Cloudflare provider against real Cloudflare all run it.
//
//	func TestContract(t *testing.T) {
//		contract.Run(t, func(t *testing.T) contract.Env { ... })
//	}
package contract

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopedns/scopedns/internal/provider"
)

// Env is one provider under test. Run calls newEnv once per case, so an Env may
// be fresh (a new simulator) or shared (real Cloudflare); cases clean up what
// they create either way.
type Env struct {
	// Provider acts with the master credential.
	Provider provider.Provider
	// Connect returns a provider of the same backend acting with another
	// credential, such as a minted token's value.
	Connect func(t *testing.T, credential provider.Secret) provider.Provider
	// ZoneA and ZoneB are two zones of the backend, by name.
	ZoneA, ZoneB string
	// Cluster is the cluster name used for owner markers and token names; it
	// is made unique per case.
	Cluster string
	// PageSize is how many records the provider reads per page; the
	// pagination case writes 2*PageSize+5 records. Default 100.
	PageSize int
	// Settle bounds how long a change takes to be seen (token propagation on
	// real Cloudflare); checks are retried until then. Zero checks once.
	Settle time.Duration
	// RateLimit, when set, makes the backend refuse the next few requests with
	// 429 and a Retry-After of at most a few seconds. Nil skips that case.
	RateLimit func(t *testing.T)
	// SetTokenQuota, when set, changes the backend's token quota. Nil skips the
	// quota case.
	SetTokenQuota func(t *testing.T, n int)
	// Logs, when set, returns everything the provider has logged so far; the
	// secrecy case checks that no token value appears in it.
	Logs func() string
	// NoTokens says the provider mints no API tokens (RFC 2136): the token
	// cases are skipped, and the case that every token method answers
	// provider.IsNotSupported runs instead.
	NoTokens bool
}

// tokenCase marks the cases that mint tokens.
type tokenCase bool

// Run runs every case of the contract as a subtest.
func Run(t *testing.T, newEnv func(t *testing.T) Env) {
	const mints, plain = tokenCase(true), tokenCase(false)
	cases := []struct {
		name   string
		tokens tokenCase
		run    func(t *testing.T, e *env)
	}{
		{"zones are found by name and unknown names are left out", plain, testZones},
		{"a credential the backend does not know is forbidden", plain, testUnknownCredential},
		{"a token minted for zone A writes and deletes a TXT record in zone A", mints, testTokenWritesInItsZone},
		{"a token minted for zone A is forbidden in zone B", mints, testTokenForbiddenElsewhere},
		{"updating a token's zones in place lets the same value write in zone B", mints, testUpdateTokenZones},
		{"a revoked token stops working", mints, testRevoke},
		{"one apply creates three, updates one and deletes one", plain, testBatch},
		{"records are read past one page and filtered by owner, name and type", plain, testPagination},
		{"MX, SRV and CAA records are created, read back, updated and deleted", plain, testStructured},
		{"TXT content of 300 and 2,048 characters is written and read back, 2,049 is refused", plain, testLongTXT},
		{"tokens of this cluster are listed by name prefix", mints, testListTokens},
		{"a token is read by ID with its name and zones, and a revoked one is not found", mints, testGetToken},
		{"a rate limit is waited out or reported with a wait", plain, testRateLimit},
		{"minting past the token quota is refused as quota exceeded", mints, testQuota},
		{"no error or log line carries a token value", mints, testNoSecretInErrors},
		{"a provider that mints no tokens answers every token method as not supported", plain, testNoTokens},
		{"two installations with one cluster name each find the other's zone marker", plain, testClusterMarker},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newEnv(t)
			if env.NoTokens && c.tokens == mints {
				t.Skip("this provider mints no tokens")
			}
			e := setup(t, env)
			c.run(t, e)
		})
	}
}

func testUnknownCredential(t *testing.T, e *env) {
	// Base64, so that a backend that wants a TSIG secret can take it.
	p := e.Connect(t, provider.Secret("bm90LWEtcmVhbC1jcmVkZW50aWFsLWF0LWFsbA=="))
	if err := p.Verify(e.ctx); !provider.IsForbidden(err) {
		t.Fatalf("Verify with an unknown credential: err = %v, want forbidden", err)
	}
	if _, err := p.Records(e.ctx, e.zoneA.ID, provider.RecordFilter{}); !provider.IsForbidden(err) {
		t.Fatalf("Records with an unknown credential: err = %v, want forbidden", err)
	}
	rec := e.txt(e.zoneA, "_acme-challenge.unknown-"+randomSuffix(), "nope")
	if _, err := p.ApplyChanges(e.ctx, e.zoneA.ID, provider.Changes{Create: []provider.Record{rec}}); !provider.IsForbidden(err) {
		t.Fatalf("writing with an unknown credential: err = %v, want forbidden", err)
	}
	if got, err := e.Provider.Records(e.ctx, e.zoneA.ID, provider.RecordFilter{Name: rec.Name}); err != nil || len(got) != 0 {
		t.Fatalf("after the refused write the zone holds %v (err %v)", got, err)
	}
}

func testNoTokens(t *testing.T, e *env) {
	if !e.NoTokens {
		if !provider.MintsTokens(e.Provider) {
			t.Fatal("the provider says it mints no tokens, but the environment does not set NoTokens")
		}
		t.Skip("this provider mints tokens")
	}
	if provider.MintsTokens(e.Provider) {
		t.Fatal("provider.MintsTokens says this provider mints tokens")
	}
	_, err := e.Provider.MintToken(e.ctx, provider.TokenSpec{Name: provider.TokenName(e.Cluster, "contract", "contract", "1"), ZoneIDs: []string{e.zoneA.ID}})
	check := func(what string, err error) {
		t.Helper()
		if !provider.IsNotSupported(err) || provider.IsRetryable(err) {
			t.Errorf("%s: err = %v, want not supported and not retryable", what, err)
		}
	}
	check("MintToken", err)
	_, err = e.Provider.UpdateTokenZones(e.ctx, "1", []string{e.zoneA.ID})
	check("UpdateTokenZones", err)
	check("RevokeToken", e.Provider.RevokeToken(e.ctx, "1"))
	_, err = e.Provider.Tokens(e.ctx, "")
	check("Tokens", err)
	_, err = e.Provider.Token(e.ctx, "1")
	check("Token", err)
}

type env struct {
	Env
	ctx          context.Context
	zoneA, zoneB provider.Zone
	claim        string
}

func setup(t *testing.T, e Env) *env {
	t.Helper()
	if e.PageSize == 0 {
		e.PageSize = 100
	}
	suffix := randomSuffix()
	if e.Cluster == "" {
		e.Cluster = "contract"
	}
	e.Cluster += "-" + suffix
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	zones, err := e.Provider.Zones(ctx, []string{e.ZoneA, e.ZoneB})
	if err != nil {
		t.Fatalf("looking up zones %s and %s: %v", e.ZoneA, e.ZoneB, err)
	}
	if len(zones) != 2 {
		t.Fatalf("looking up zones %s and %s found %v", e.ZoneA, e.ZoneB, zones)
	}
	return &env{Env: e, ctx: ctx, zoneA: zones[0], zoneB: zones[1], claim: "claim-" + suffix}
}

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// owner is the owner marker of records a case writes.
func (e *env) owner() string { return provider.OwnerComment(e.Cluster, "contract", e.claim) }

// txt is a TXT record owned by the case.
func (e *env) txt(zone provider.Zone, label, content string) provider.Record {
	return provider.Record{Name: label + "." + zone.Name, Type: "TXT", Content: content, TTL: 120, Comment: e.owner()}
}

// cleanupRecords deletes, at the end of the test, every record the case wrote in
// the zone (found by its owner marker).
func (e *env) cleanupRecords(t *testing.T, zone provider.Zone) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		recs, err := e.Provider.Records(ctx, zone.ID, provider.RecordFilter{Owner: e.owner()})
		if err != nil {
			t.Logf("cleanup: listing records in %s: %v", zone.Name, err)
			return
		}
		if len(recs) == 0 {
			return
		}
		if _, err := e.Provider.ApplyChanges(ctx, zone.ID, provider.Changes{Delete: recs}); err != nil {
			t.Logf("cleanup: deleting %d records in %s: %v", len(recs), zone.Name, err)
		}
	})
}

// mint mints a token for the zones and revokes it at the end of the test.
func (e *env) mint(t *testing.T, serial string, zones ...provider.Zone) provider.MintedToken {
	t.Helper()
	spec := provider.TokenSpec{
		Name:      provider.TokenName(e.Cluster, "contract", "contract", serial),
		NotBefore: time.Now().Add(-time.Minute).Truncate(time.Second),
		ExpiresOn: time.Now().Add(time.Hour).Truncate(time.Second),
	}
	for _, z := range zones {
		spec.ZoneIDs = append(spec.ZoneIDs, z.ID)
	}
	tok, err := e.Provider.MintToken(e.ctx, spec)
	if err != nil {
		t.Fatalf("minting a token for %v: %v", spec.ZoneIDs, err)
	}
	if tok.ID == "" || tok.Value.IsZero() {
		t.Fatalf("minted token has no ID or no value: %+v", tok)
	}
	if tok.Name != spec.Name {
		t.Errorf("minted token is named %q, want %q", tok.Name, spec.Name)
	}
	if got, want := tok.ZoneIDs, sortedIDs(zones...); !slices.Equal(got, want) {
		t.Errorf("minted token has zones %v, want %v", got, want)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.Provider.RevokeToken(ctx, tok.ID); err != nil && !provider.IsNotFound(err) {
			t.Logf("cleanup: revoking token %s: %v", tok.ID, err)
		}
	})
	return tok
}

func sortedIDs(zones ...provider.Zone) []string {
	var ids []string
	for _, z := range zones {
		ids = append(ids, z.ID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// eventually retries check until it succeeds or Settle has passed.
func (e *env) eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(e.Settle)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(min(time.Second, e.Settle/10+10*time.Millisecond))
	}
}

func testZones(t *testing.T, e *env) {
	zones, err := e.Provider.Zones(e.ctx, []string{strings.ToUpper(e.ZoneB) + ".", "no-such-zone-" + randomSuffix() + ".example", e.ZoneA})
	if err != nil {
		t.Fatalf("Zones: %v", err)
	}
	want := []provider.Zone{e.zoneB, e.zoneA}
	if !slices.Equal(zones, want) {
		t.Fatalf("Zones = %v, want %v", zones, want)
	}
	if e.zoneA.ID == e.zoneB.ID || e.zoneA.ID == "" {
		t.Fatalf("zone IDs %q and %q should be distinct and set", e.zoneA.ID, e.zoneB.ID)
	}
	if err := e.Provider.Verify(e.ctx); err != nil {
		t.Fatalf("Verify with the master credential: %v", err)
	}
}

func testTokenWritesInItsZone(t *testing.T, e *env) {
	e.cleanupRecords(t, e.zoneA)
	tok := e.mint(t, "a", e.zoneA)
	p := e.Connect(t, tok.Value)
	e.eventually(t, "Verify with the minted token", func() error { return p.Verify(e.ctx) })

	rec := e.txt(e.zoneA, "_acme-challenge.write-"+randomSuffix(), "token-can-write")
	var res provider.ApplyResult
	e.eventually(t, "creating a TXT with the minted token", func() error {
		var err error
		res, err = p.ApplyChanges(e.ctx, e.zoneA.ID, provider.Changes{Create: []provider.Record{rec}})
		return err
	})
	if len(res.Created) != 1 || res.Created[0].ID == "" {
		t.Fatalf("ApplyChanges created %v, want one record with an ID", res.Created)
	}
	got, err := p.Records(e.ctx, e.zoneA.ID, provider.RecordFilter{Name: rec.Name, Type: "TXT"})
	if err != nil {
		t.Fatalf("reading the TXT back with the minted token: %v", err)
	}
	if len(got) != 1 || !sameRecord(got[0], rec) || got[0].ID != res.Created[0].ID {
		t.Fatalf("read back %v, want %v with ID %s", got, rec, res.Created[0].ID)
	}
	if o, ok := got[0].Owner(); !ok || !o.Is(e.Cluster, "contract", e.claim) {
		t.Fatalf("record owner = %+v, %v; want this case's claim", o, ok)
	}

	if _, err := p.ApplyChanges(e.ctx, e.zoneA.ID, provider.Changes{Delete: got}); err != nil {
		t.Fatalf("deleting the TXT with the minted token: %v", err)
	}
	got, err = p.Records(e.ctx, e.zoneA.ID, provider.RecordFilter{Name: rec.Name})
	if err != nil {
		t.Fatalf("reading after delete: %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("after delete found %v", got)
	}
}

func testTokenForbiddenElsewhere(t *testing.T, e *env) {
	e.cleanupRecords(t, e.zoneB)
	tok := e.mint(t, "a", e.zoneA)
	p := e.Connect(t, tok.Value)
	e.eventually(t, "Verify with the minted token", func() error { return p.Verify(e.ctx) })

	_, err := p.ApplyChanges(e.ctx, e.zoneB.ID, provider.Changes{Create: []provider.Record{e.txt(e.zoneB, "_acme-challenge.forbidden", "nope")}})
	if !provider.IsForbidden(err) {
		t.Fatalf("writing in zone B with a token for zone A: err = %v, want forbidden", err)
	}
	if provider.IsRetryable(err) {
		t.Errorf("forbidden error %v should not be retryable", err)
	}
	_, err = p.Records(e.ctx, e.zoneB.ID, provider.RecordFilter{})
	if !provider.IsForbidden(err) {
		t.Fatalf("reading zone B with a token for zone A: err = %v, want forbidden", err)
	}
	if _, err := p.MintToken(e.ctx, provider.TokenSpec{Name: provider.TokenName(e.Cluster, "contract", "contract", "escalate"), ZoneIDs: []string{e.zoneB.ID}}); !provider.IsForbidden(err) {
		t.Fatalf("minting with a minted token: err = %v, want forbidden", err)
	}
	recs, err := e.Provider.Records(e.ctx, e.zoneB.ID, provider.RecordFilter{Owner: e.owner()})
	if err != nil {
		t.Fatalf("listing zone B with the master credential: %v", err)
	}
	if len(recs) != 0 {
		t.Fatalf("the forbidden write left records behind: %v", recs)
	}
}

func testUpdateTokenZones(t *testing.T, e *env) {
	e.cleanupRecords(t, e.zoneB)
	tok := e.mint(t, "a", e.zoneA)
	p := e.Connect(t, tok.Value)
	rec := e.txt(e.zoneB, "_acme-challenge.widened-"+randomSuffix(), "widened")
	e.eventually(t, "Verify with the minted token", func() error { return p.Verify(e.ctx) })
	if _, err := p.ApplyChanges(e.ctx, e.zoneB.ID, provider.Changes{Create: []provider.Record{rec}}); !provider.IsForbidden(err) {
		t.Fatalf("before the update, writing in zone B: err = %v, want forbidden", err)
	}

	updated, err := e.Provider.UpdateTokenZones(e.ctx, tok.ID, []string{e.zoneB.ID, e.zoneA.ID})
	if err != nil {
		t.Fatalf("UpdateTokenZones: %v", err)
	}
	if want := sortedIDs(e.zoneA, e.zoneB); !slices.Equal(updated.ZoneIDs, want) {
		t.Fatalf("updated token has zones %v, want %v", updated.ZoneIDs, want)
	}
	if updated.ID != tok.ID || updated.Name != tok.Name {
		t.Fatalf("updated token is %s %q, want %s %q", updated.ID, updated.Name, tok.ID, tok.Name)
	}
	if !updated.ExpiresOn.Equal(tok.ExpiresOn) || !updated.NotBefore.Equal(tok.NotBefore) {
		t.Fatalf("update changed the validity window: %v..%v, was %v..%v", updated.NotBefore, updated.ExpiresOn, tok.NotBefore, tok.ExpiresOn)
	}
	e.eventually(t, "writing in zone B with the same value after the update", func() error {
		_, err := p.ApplyChanges(e.ctx, e.zoneB.ID, provider.Changes{Create: []provider.Record{rec}})
		return err
	})

	narrowed, err := e.Provider.UpdateTokenZones(e.ctx, tok.ID, []string{e.zoneB.ID})
	if err != nil {
		t.Fatalf("narrowing the token to zone B: %v", err)
	}
	if !slices.Equal(narrowed.ZoneIDs, []string{e.zoneB.ID}) {
		t.Fatalf("narrowed token has zones %v", narrowed.ZoneIDs)
	}
	e.eventually(t, "reading zone A after narrowing to zone B", func() error {
		_, err := p.Records(e.ctx, e.zoneA.ID, provider.RecordFilter{})
		if !provider.IsForbidden(err) {
			return fmt.Errorf("err = %v, want forbidden", err)
		}
		return nil
	})
	if _, err := e.Provider.UpdateTokenZones(e.ctx, "0000000000000000000000000000dead", []string{e.zoneA.ID}); !provider.IsNotFound(err) {
		t.Fatalf("updating a token that does not exist: err = %v, want not found", err)
	}
}

func testRevoke(t *testing.T, e *env) {
	e.cleanupRecords(t, e.zoneA)
	tok := e.mint(t, "a", e.zoneA)
	p := e.Connect(t, tok.Value)
	e.eventually(t, "Verify with the minted token", func() error { return p.Verify(e.ctx) })

	if err := e.Provider.RevokeToken(e.ctx, tok.ID); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	e.eventually(t, "Verify after revocation", func() error {
		if err := p.Verify(e.ctx); !provider.IsForbidden(err) {
			return fmt.Errorf("err = %v, want forbidden", err)
		}
		return nil
	})
	_, err := p.ApplyChanges(e.ctx, e.zoneA.ID, provider.Changes{Create: []provider.Record{e.txt(e.zoneA, "_acme-challenge.revoked", "nope")}})
	if !provider.IsForbidden(err) {
		t.Fatalf("writing with a revoked token: err = %v, want forbidden", err)
	}
	if err := e.Provider.RevokeToken(e.ctx, tok.ID); !provider.IsNotFound(err) {
		t.Fatalf("revoking again: err = %v, want not found", err)
	}
	toks, err := e.Provider.Tokens(e.ctx, provider.TokenNamePrefix(e.Cluster))
	if err != nil {
		t.Fatalf("Tokens: %v", err)
	}
	for _, x := range toks {
		if x.ID == tok.ID {
			t.Fatalf("revoked token %s is still listed", tok.ID)
		}
	}
}

func testBatch(t *testing.T, e *env) {
	e.cleanupRecords(t, e.zoneA)
	label := "batch-" + randomSuffix()
	keep := e.txt(e.zoneA, "keep."+label, "v1")
	drop := e.txt(e.zoneA, "drop."+label, "v1")
	res, err := e.Provider.ApplyChanges(e.ctx, e.zoneA.ID, provider.Changes{Create: []provider.Record{keep, drop}})
	if err != nil {
		t.Fatalf("creating the first two records: %v", err)
	}
	if len(res.Created) != 2 {
		t.Fatalf("created %v, want two", res.Created)
	}
	keepOld, dropOld := res.Created[0], res.Created[1]
	if !sameRecord(keepOld, keep) || !sameRecord(dropOld, drop) {
		t.Fatalf("Created is not in the order of Changes.Create: %v", res.Created)
	}

	keepNew := keep
	keepNew.Content = "v2"
	keepNew.TTL = 300
	creates := []provider.Record{
		e.txt(e.zoneA, "c1."+label, "one"),
		e.txt(e.zoneA, "c2."+label, "two"),
		{Name: "c3." + label + "." + e.zoneA.Name, Type: "A", Content: "192.0.2.3", TTL: 60, Comment: e.owner()},
	}
	res, err = e.Provider.ApplyChanges(e.ctx, e.zoneA.ID, provider.Changes{
		Create:    creates,
		UpdateOld: []provider.Record{keepOld},
		UpdateNew: []provider.Record{keepNew},
		Delete:    []provider.Record{dropOld},
	})
	if err != nil {
		t.Fatalf("ApplyChanges: %v", err)
	}
	if len(res.Created) != 3 || len(res.Updated) != 1 || !slices.Equal(res.Deleted, []string{dropOld.ID}) {
		t.Fatalf("ApplyChanges reported created %v, updated %v, deleted %v", res.Created, res.Updated, res.Deleted)
	}
	if res.Updated[0].ID != keepOld.ID || !sameRecord(res.Updated[0], keepNew) {
		t.Fatalf("updated record is %v (%s), want %v (%s)", res.Updated[0], res.Updated[0].ID, keepNew, keepOld.ID)
	}
	got, err := e.Provider.Records(e.ctx, e.zoneA.ID, provider.RecordFilter{Owner: e.owner()})
	if err != nil {
		t.Fatalf("Records: %v", err)
	}
	want := append([]provider.Record{keepNew}, creates...)
	if diff := recordSetDiff(got, want); diff != "" {
		t.Fatalf("zone after the batch: %s", diff)
	}

	_, err = e.Provider.ApplyChanges(e.ctx, e.zoneA.ID, provider.Changes{Delete: []provider.Record{dropOld}})
	if !provider.IsNotFound(err) && !provider.IsInvalid(err) {
		t.Fatalf("deleting an already deleted record: err = %v, want not found or invalid", err)
	}
	if _, err := e.Provider.ApplyChanges(e.ctx, e.zoneA.ID, provider.Changes{Create: []provider.Record{{Name: "x." + e.zoneA.Name, Type: "SPF1", Content: "x"}}}); !provider.IsInvalid(err) {
		t.Fatalf("creating a record of an unsupported type: err = %v, want invalid", err)
	}
}

// testLongTXT writes TXT content longer than one 255-byte character-string
// (Cloudflare splits it) up to the 2,048-character limit, and checks that
// one character more is refused as invalid and writes nothing, so that
// admission (grant.MaxTXTLength) can refuse exactly what the provider does.
func testLongTXT(t *testing.T, e *env) {
	e.cleanupRecords(t, e.zoneA)
	label := "long-" + randomSuffix()
	// DKIM-like text: varied, with the spaces and semicolons real keys have.
	text := func(n int) string {
		const alphabet = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA0123456789+/"
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[(i*7)%len(alphabet)]
		}
		return string(b)
	}
	for _, n := range []int{300, provider.MaxTXTContentLength} {
		rec := e.txt(e.zoneA, fmt.Sprintf("n%d.%s", n, label), text(n))
		if _, err := e.Provider.ApplyChanges(e.ctx, e.zoneA.ID, provider.Changes{Create: []provider.Record{rec}}); err != nil {
			t.Fatalf("creating a TXT record of %d characters: %v", n, err)
		}
		got, err := e.Provider.Records(e.ctx, e.zoneA.ID, provider.RecordFilter{Name: rec.Name, Type: "TXT"})
		if err != nil {
			t.Fatalf("reading the TXT record of %d characters: %v", n, err)
		}
		if len(got) != 1 || txtText(got[0].Content) != rec.Content {
			t.Fatalf("the TXT record of %d characters reads back as %d records %v", n, len(got), got)
		}
	}
	tooLong := e.txt(e.zoneA, "over."+label, text(provider.MaxTXTContentLength+1))
	_, err := e.Provider.ApplyChanges(e.ctx, e.zoneA.ID, provider.Changes{Create: []provider.Record{tooLong}})
	if !provider.IsInvalid(err) {
		t.Fatalf("creating a TXT record of %d characters: err = %v, want invalid", provider.MaxTXTContentLength+1, err)
	}
	if got, err := e.Provider.Records(e.ctx, e.zoneA.ID, provider.RecordFilter{Name: tooLong.Name}); err != nil || len(got) != 0 {
		t.Fatalf("after the refusal the zone holds %v (err %v) at %s, want nothing", got, err, tooLong.Name)
	}
}

// txtText is the text of TXT content: quoted character-strings joined, or
// the content as it is. Cloudflare may give long text back split into
// quoted strings.
func txtText(c string) string {
	if !strings.HasPrefix(c, `"`) {
		return c
	}
	var b strings.Builder
	for rest := c; rest != ""; {
		rest = strings.TrimLeft(rest, " ")
		if !strings.HasPrefix(rest, `"`) {
			return c
		}
		end := strings.Index(rest[1:], `"`)
		if end < 0 {
			return c
		}
		b.WriteString(rest[1 : end+1])
		rest = rest[end+2:]
	}
	return b.String()
}

// testStructured writes MX, SRV and CAA content in non-canonical forms and
// checks that every read gives it back canonical, so that a plan comparing
// what it wants with what it reads sees no difference.
func testStructured(t *testing.T, e *env) {
	e.cleanupRecords(t, e.zoneA)
	label := "rdata-" + randomSuffix() + "." + e.zoneA.Name
	mail, null, srv, caa := "mail."+label, "null."+label, "_sip._tcp."+label, "caa."+label
	rec := func(name, typ, content string) provider.Record {
		return provider.Record{Name: name, Type: typ, Content: content, TTL: 300, Comment: e.owner()}
	}
	creates := []provider.Record{
		rec(mail, "MX", "10 MX1.Example.NET."),
		rec(mail, "MX", "20 mx2.example.net"),
		rec(null, "MX", "0 ."),
		rec(srv, "SRV", "10 5 5060 SIP.example.net."),
		rec(srv, "SRV", "20 0 5061 sip2.example.net"),
		rec(caa, "CAA", "0 issue letsencrypt.org"),
		rec(caa, "CAA", `0 issue "ca.example.net; account=1234"`),
		rec(caa, "CAA", `0 iodef "mailto:security@example.net"`),
	}
	res, err := e.Provider.ApplyChanges(e.ctx, e.zoneA.ID, provider.Changes{Create: creates})
	if err != nil {
		t.Fatalf("creating MX, SRV and CAA records: %v", err)
	}
	if len(res.Created) != len(creates) {
		t.Fatalf("created %v, want %d records", res.Created, len(creates))
	}
	for i, r := range res.Created {
		if want := canonical(creates[i]); key(r) != key(want) {
			t.Errorf("Created[%d] = %s, want %s", i, key(r), key(want))
		}
	}
	checkZone := func(what string, want []provider.Record) []provider.Record {
		t.Helper()
		got, err := e.Provider.Records(e.ctx, e.zoneA.ID, provider.RecordFilter{Owner: e.owner()})
		if err != nil {
			t.Fatalf("Records %s: %v", what, err)
		}
		var canon []provider.Record
		for _, r := range want {
			canon = append(canon, canonical(r))
		}
		if diff := recordSetDiff(got, canon); diff != "" {
			t.Fatalf("records %s: %s", what, diff)
		}
		return got
	}
	got := checkZone("after creating", creates)
	byContent := map[string]provider.Record{}
	for _, r := range got {
		byContent[r.Type+" "+r.Content] = r
	}

	updates := []provider.Record{
		rec(mail, "MX", "30 mx3.example.net"),
		rec(srv, "SRV", "10 5 5080 sip.example.net"),
		rec(caa, "CAA", `0 issuewild ";"`),
	}
	old := []provider.Record{
		byContent["MX 10 mx1.example.net"],
		byContent["SRV 10 5 5060 sip.example.net"],
		byContent[`CAA 0 issue "letsencrypt.org"`],
	}
	for i, r := range old {
		if r.ID == "" {
			t.Fatalf("record %d to update was not read back: %v", i, got)
		}
	}
	res, err = e.Provider.ApplyChanges(e.ctx, e.zoneA.ID, provider.Changes{UpdateOld: old, UpdateNew: updates, Delete: []provider.Record{byContent["MX 0 ."]}})
	if err != nil {
		t.Fatalf("updating MX, SRV and CAA records: %v", err)
	}
	for i, r := range res.Updated {
		if want := canonical(updates[i]); key(r) != key(want) || r.ID != old[i].ID {
			t.Errorf("Updated[%d] = %s (%s), want %s (%s)", i, key(r), r.ID, key(want), old[i].ID)
		}
	}
	got = checkZone("after updating", []provider.Record{
		updates[0], creates[1], updates[1], creates[4], updates[2], creates[6], creates[7],
	})

	if _, err := e.Provider.ApplyChanges(e.ctx, e.zoneA.ID, provider.Changes{Delete: got}); err != nil {
		t.Fatalf("deleting MX, SRV and CAA records: %v", err)
	}
	checkZone("after deleting", nil)
}

// canonical is the record as a provider reads it back.
func canonical(r provider.Record) provider.Record {
	r.Content = provider.CanonicalContent(r.Type, r.Content)
	return r
}

func testPagination(t *testing.T, e *env) {
	e.cleanupRecords(t, e.zoneA)
	n := 2*e.PageSize + 5
	label := "page-" + randomSuffix()
	var creates []provider.Record
	for i := range n {
		creates = append(creates, e.txt(e.zoneA, fmt.Sprintf("r%03d.%s", i, label), fmt.Sprintf("value-%d", i)))
	}
	other := provider.Record{Name: "other." + label + "." + e.zoneA.Name, Type: "TXT", Content: "someone else's", TTL: 120, Comment: "written by hand"}
	otherCluster := e.txt(e.zoneA, "other-cluster."+label, "another cluster's")
	otherCluster.Comment = provider.OwnerComment(e.Cluster+"-other", "contract", e.claim)
	res, err := e.Provider.ApplyChanges(e.ctx, e.zoneA.ID, provider.Changes{Create: append(slices.Clone(creates), other, otherCluster)})
	if err != nil {
		t.Fatalf("creating %d records in one apply: %v", n+2, err)
	}
	t.Cleanup(func() {
		ids := []provider.Record{res.Created[len(res.Created)-2], res.Created[len(res.Created)-1]}
		if _, err := e.Provider.ApplyChanges(context.Background(), e.zoneA.ID, provider.Changes{Delete: ids}); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
	if len(res.Created) != n+2 {
		t.Fatalf("created %d records, want %d", len(res.Created), n+2)
	}

	got, err := e.Provider.Records(e.ctx, e.zoneA.ID, provider.RecordFilter{Owner: e.owner()})
	if err != nil {
		t.Fatalf("Records by owner: %v", err)
	}
	if diff := recordSetDiff(got, creates); diff != "" {
		t.Fatalf("records by owner: %s", diff)
	}
	got, err = e.Provider.Records(e.ctx, e.zoneA.ID, provider.RecordFilter{OwnerPrefix: provider.OwnerPrefix(e.Cluster)})
	if err != nil {
		t.Fatalf("Records by cluster: %v", err)
	}
	if diff := recordSetDiff(got, creates); diff != "" {
		t.Fatalf("records by cluster prefix: %s", diff)
	}
	got, err = e.Provider.Records(e.ctx, e.zoneA.ID, provider.RecordFilter{})
	if err != nil {
		t.Fatalf("Records without a filter: %v", err)
	}
	if len(got) < n+2 {
		t.Fatalf("unfiltered Records returned %d records, want at least %d", len(got), n+2)
	}
	got, err = e.Provider.Records(e.ctx, e.zoneA.ID, provider.RecordFilter{Name: strings.ToUpper(creates[n-1].Name) + ".", Type: "txt"})
	if err != nil {
		t.Fatalf("Records by name: %v", err)
	}
	if diff := recordSetDiff(got, creates[n-1:]); diff != "" {
		t.Fatalf("records by name and type: %s", diff)
	}
	got, err = e.Provider.Records(e.ctx, e.zoneA.ID, provider.RecordFilter{Name: creates[0].Name, Type: "A"})
	if err != nil {
		t.Fatalf("Records by name and another type: %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("records by name with type A: %v, want none", got)
	}
}

func testGetToken(t *testing.T, e *env) {
	tok := e.mint(t, "get", e.zoneA)
	got, err := e.Provider.Token(e.ctx, tok.ID)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if got.ID != tok.ID || got.Name != tok.Name || !slices.Equal(got.ZoneIDs, sortedIDs(e.zoneA)) {
		t.Fatalf("Token(%s) = %+v, want name %q and zones %v", tok.ID, got, tok.Name, sortedIDs(e.zoneA))
	}
	if !provider.TokenBelongsTo(got.Name, e.Cluster, "contract", "contract") || provider.TokenBelongsTo(got.Name, e.Cluster, "contract", "team-a") {
		t.Fatalf("the name read back, %q, does not tell its namespace", got.Name)
	}
	if err := e.Provider.RevokeToken(e.ctx, tok.ID); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	e.eventually(t, "reading a revoked token", func() error {
		if _, err := e.Provider.Token(e.ctx, tok.ID); !provider.IsNotFound(err) {
			return fmt.Errorf("err = %v, want not found", err)
		}
		return nil
	})
}

func testListTokens(t *testing.T, e *env) {
	spec := provider.TokenSpec{
		Name:         provider.TokenName(e.Cluster, "contract", "team-a", "1"),
		ZoneIDs:      []string{e.zoneB.ID, e.zoneA.ID},
		AllowedCIDRs: []string{"192.0.2.0/24", "2001:db8::/32"},
		NotBefore:    time.Now().Add(-time.Minute).Truncate(time.Second).UTC(),
		ExpiresOn:    time.Now().Add(2 * time.Hour).Truncate(time.Second).UTC(),
	}
	minted, err := e.Provider.MintToken(e.ctx, spec)
	if err != nil {
		t.Fatalf("MintToken: %v", err)
	}
	t.Cleanup(func() { _ = e.Provider.RevokeToken(context.Background(), minted.ID) })
	second := e.mint(t, "2", e.zoneA)
	other := provider.TokenSpec{Name: provider.TokenName(e.Cluster+"x", "contract", "team-a", "1"), ZoneIDs: []string{e.zoneA.ID}, ExpiresOn: spec.ExpiresOn}
	otherTok, err := e.Provider.MintToken(e.ctx, other)
	if err != nil {
		t.Fatalf("MintToken for another cluster: %v", err)
	}
	t.Cleanup(func() { _ = e.Provider.RevokeToken(context.Background(), otherTok.ID) })

	toks, err := e.Provider.Tokens(e.ctx, provider.TokenNamePrefix(e.Cluster))
	if err != nil {
		t.Fatalf("Tokens: %v", err)
	}
	byID := map[string]provider.Token{}
	for _, x := range toks {
		byID[x.ID] = x
	}
	if len(toks) != 2 || byID[minted.ID].ID == "" || byID[second.ID].ID == "" {
		t.Fatalf("Tokens(%q) = %v, want exactly %s and %s", provider.TokenNamePrefix(e.Cluster), toks, minted.ID, second.ID)
	}
	got := byID[minted.ID]
	if got.Name != spec.Name || !slices.Equal(got.ZoneIDs, sortedIDs(e.zoneA, e.zoneB)) || got.Status != provider.TokenActive {
		t.Errorf("listed token = %+v, want name %q, zones %v, active", got, spec.Name, sortedIDs(e.zoneA, e.zoneB))
	}
	if !got.ExpiresOn.Equal(spec.ExpiresOn) || !got.NotBefore.Equal(spec.NotBefore) {
		t.Errorf("listed token validity %v..%v, want %v..%v", got.NotBefore, got.ExpiresOn, spec.NotBefore, spec.ExpiresOn)
	}
	if !sameSet(got.AllowedCIDRs, spec.AllowedCIDRs) {
		t.Errorf("listed token allows %v, want %v", got.AllowedCIDRs, spec.AllowedCIDRs)
	}
	if parts, ok := provider.ParseTokenName(got.Name); !ok || parts.Namespace != "team-a" || parts.Scope != "contract" || parts.Serial != "1" {
		t.Errorf("ParseTokenName(%q) = %+v, %v", got.Name, parts, ok)
	}
}

func testRateLimit(t *testing.T, e *env) {
	if e.RateLimit == nil {
		t.Skip("this environment cannot provoke a 429")
	}
	e.RateLimit(t)
	deadline := time.Now().Add(30 * time.Second)
	limited, ok := 0, 0
	for ok < 5 {
		_, err := e.Provider.Records(e.ctx, e.zoneA.ID, provider.RecordFilter{Owner: e.owner()})
		switch wait, isLimited := provider.IsRateLimited(err); {
		case err == nil:
			ok++
		case isLimited:
			limited++
			if wait <= 0 {
				t.Fatalf("rate-limited error %v has no wait", err)
			}
			if !provider.IsRetryable(err) {
				t.Fatalf("rate-limited error %v is not retryable", err)
			}
			time.Sleep(min(wait, time.Second))
		default:
			t.Fatalf("under a rate limit, Records failed with %v; want success or a rate-limited error", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("still rate limited after 30s (%d refusals, %d successes)", limited, ok)
		}
	}
	t.Logf("%d calls reported rate limited before 5 succeeded", limited)
}

func testQuota(t *testing.T, e *env) {
	if e.SetTokenQuota == nil {
		t.Skip("this environment cannot change the token quota")
	}
	before, err := e.Provider.Tokens(e.ctx, "")
	if err != nil {
		t.Fatalf("Tokens: %v", err)
	}
	e.SetTokenQuota(t, len(before)+1)
	e.mint(t, "1", e.zoneA)
	_, err = e.Provider.MintToken(e.ctx, provider.TokenSpec{Name: provider.TokenName(e.Cluster, "contract", "contract", "2"), ZoneIDs: []string{e.zoneA.ID}})
	if !provider.IsQuotaExceeded(err) {
		t.Fatalf("minting past the quota: err = %v, want quota exceeded", err)
	}
	if provider.IsRetryable(err) {
		t.Fatalf("quota error %v should not be retryable", err)
	}
}

func testNoSecretInErrors(t *testing.T, e *env) {
	tok := e.mint(t, "secret", e.zoneA)
	value := tok.Value.Reveal()
	p := e.Connect(t, tok.Value)
	e.eventually(t, "Verify with the minted token", func() error { return p.Verify(e.ctx) })

	var errs []error
	collect := func(what string, err error) {
		if err == nil {
			t.Errorf("%s: expected an error", what)
			return
		}
		errs = append(errs, err)
	}
	_, err := p.ApplyChanges(e.ctx, e.zoneB.ID, provider.Changes{Create: []provider.Record{e.txt(e.zoneB, "_acme-challenge.secret", "x")}})
	collect("writing in a zone the token lacks", err)
	_, err = p.Records(e.ctx, e.zoneB.ID, provider.RecordFilter{})
	collect("reading a zone the token lacks", err)
	_, err = p.Tokens(e.ctx, "")
	collect("listing tokens with a minted token", err)
	_, err = p.ApplyChanges(e.ctx, e.zoneA.ID, provider.Changes{Delete: []provider.Record{{ID: "0000000000000000000000000000dead", Name: "gone." + e.zoneA.Name, Type: "TXT"}}})
	collect("deleting a record that does not exist", err)
	_, err = p.ApplyChanges(e.ctx, e.zoneA.ID, provider.Changes{Create: []provider.Record{{Name: "bad." + e.zoneA.Name, Type: "A", Content: "not-an-address", Comment: e.owner()}}})
	if err != nil { // some backends accept anything; an error here is only collected
		errs = append(errs, err)
	} else {
		e.cleanupRecords(t, e.zoneA)
	}
	if err := e.Provider.RevokeToken(e.ctx, tok.ID); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	e.eventually(t, "Verify after revocation", func() error {
		err := p.Verify(e.ctx)
		if err == nil {
			return errors.New("the revoked token still verifies")
		}
		errs = append(errs, err)
		return nil
	})
	_, err = p.Records(e.ctx, e.zoneA.ID, provider.RecordFilter{})
	collect("reading with a revoked token", err)
	_, err = e.Provider.UpdateTokenZones(e.ctx, tok.ID, []string{e.zoneA.ID})
	collect("updating a revoked token", err)
	collect("revoking twice", e.Provider.RevokeToken(e.ctx, tok.ID))

	for _, err := range errs {
		for _, s := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
			if strings.Contains(s, value) {
				t.Fatalf("an error carries the token value: %s", provider.Redact(s, tok.Value))
			}
		}
	}
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%+v", tok), fmt.Sprintf("%#v", tok), fmt.Sprintf("%x", tok.Value), fmt.Sprintf("%q", tok.Value)} {
		if strings.Contains(s, value) || strings.Contains(s, hex.EncodeToString([]byte(value))) {
			t.Fatalf("printing the minted token shows its value")
		}
	}
	if e.Logs != nil {
		if logs := e.Logs(); strings.Contains(logs, value) {
			t.Fatalf("the provider logged the token value")
		}
	}
	t.Logf("checked %d errors", len(errs))
}

// sameRecord compares what a caller controls: name, type, content, TTL
// (automatic TTL as 1) and comment.
func sameRecord(a, b provider.Record) bool {
	return key(a) == key(b)
}

func key(r provider.Record) string {
	ttl := r.TTL
	if ttl == 0 {
		ttl = 1
	}
	return fmt.Sprintf("%s|%s|%s|%d|%s", provider.NormalizeName(r.Name), strings.ToUpper(r.Type), r.Content, ttl, r.Comment)
}

func recordSetDiff(got, want []provider.Record) string {
	count := map[string]int{}
	for _, r := range want {
		count[key(r)]++
	}
	for _, r := range got {
		count[key(r)]--
	}
	var missing, extra []string
	for k, n := range count {
		for ; n > 0; n-- {
			missing = append(missing, k)
		}
		for ; n < 0; n++ {
			extra = append(extra, k)
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return ""
	}
	slices.Sort(missing)
	slices.Sort(extra)
	trim := func(s []string) []string {
		if len(s) > 5 {
			return append(s[:5:5], fmt.Sprintf("... %d more", len(s)-5))
		}
		return s
	}
	return fmt.Sprintf("got %d records, want %d; missing %v; unexpected %v", len(got), len(want), trim(missing), trim(extra))
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func testClusterMarker(t *testing.T, e *env) {
	zone := e.zoneA
	comment := provider.ClusterMarkerComment(e.Cluster)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		recs, err := e.Provider.Records(ctx, zone.ID, provider.RecordFilter{Owner: comment})
		if err == nil && len(recs) > 0 {
			_, err = e.Provider.ApplyChanges(ctx, zone.ID, provider.Changes{Delete: recs})
		}
		if err != nil {
			t.Logf("cleanup: deleting the cluster markers in %s: %v", zone.Name, err)
		}
	})
	for range 2 { // the second pass finds its own marker and writes nothing
		if err := provider.MarkZone(e.ctx, e.Provider, zone, e.Cluster, "first"); err != nil {
			t.Fatalf("marking an unmarked zone: %v", err)
		}
	}
	err := provider.MarkZone(e.ctx, e.Provider, zone, e.Cluster, "second")
	var conflict *provider.ClusterNameConflictError
	if !errors.As(err, &conflict) || !errors.Is(err, provider.ErrClusterNameConflict) || !slices.Equal(conflict.Others, []string{"first"}) {
		t.Fatalf("a second installation of cluster %s: got %v, want a conflict with instance first", e.Cluster, err)
	}
	err = provider.MarkZone(e.ctx, e.Provider, zone, e.Cluster, "first")
	if !errors.As(err, &conflict) || !slices.Equal(conflict.Others, []string{"second"}) {
		t.Fatalf("the first installation after the second marked the zone: got %v, want a conflict with instance second", err)
	}
	if err := provider.MarkZone(e.ctx, e.Provider, zone, e.Cluster+"-other", "third"); err != nil {
		t.Fatalf("another cluster name in the same zone: %v", err)
	}
	t.Cleanup(func() {
		recs, _ := e.Provider.Records(context.Background(), zone.ID, provider.RecordFilter{Owner: provider.ClusterMarkerComment(e.Cluster + "-other")})
		_, _ = e.Provider.ApplyChanges(context.Background(), zone.ID, provider.Changes{Delete: recs})
	})
	recs, err := e.Provider.Records(e.ctx, zone.ID, provider.RecordFilter{Name: provider.ClusterMarkerName(zone.Name), Type: "TXT", Owner: comment})
	if err != nil || len(recs) != 2 {
		t.Fatalf("markers of cluster %s: %v, %v; want one per installation", e.Cluster, recs, err)
	}
	if o, ok := recs[0].Owner(); ok {
		t.Fatalf("a marker reads as the owner marker %+v; the record GC would collect it", o)
	}
}
