package gateway

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/auditsample"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

// capture signs m as c would and returns its wire bytes and MAC: what an
// eavesdropper on the path keeps.
func capture(t *testing.T, c client, m *dns.Msg) ([]byte, string) {
	t.Helper()
	m.SetTsig(c.key, c.alg, 300, time.Now().Unix())
	buf, mac, err := dns.TsigGenerate(m, c.secret, "", false)
	if err != nil {
		t.Fatal(err)
	}
	return buf, mac
}

// sendWire sends raw bytes over net on a fresh socket, as a replaying
// attacker would, and returns the first answer, with the error of checking
// its MAC against secret when it is signed.
func sendWire(t *testing.T, addr, net string, buf []byte, secret, requestMAC string) (*dns.Msg, error) {
	t.Helper()
	co, err := dns.Dial(net, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	_ = co.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := co.Write(buf); err != nil {
		t.Fatal(err)
	}
	raw, err := co.ReadMsgHeader(nil)
	if err != nil {
		t.Fatal(err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(raw); err != nil {
		t.Fatal(err)
	}
	if r.IsTsig() != nil {
		return r, verifyAnswerMAC(raw, secret, dns.HmacSHA256, requestMAC)
	}
	return r, nil
}

// mustRefuseReplay checks the answer to a replay: NOTAUTH, TSIG error
// BADTIME, signed with the key so that the client can trust it.
func mustRefuseReplay(t *testing.T, r *dns.Msg, macErr error) {
	t.Helper()
	if r.Rcode != dns.RcodeNotAuth {
		t.Fatalf("replay answered %s, want NOTAUTH", dns.RcodeToString[r.Rcode])
	}
	ts := r.IsTsig()
	if ts == nil || ts.Error != dns.RcodeBadTime {
		t.Fatalf("replay answered TSIG %v, want error BADTIME", ts)
	}
	if macErr != nil {
		t.Fatalf("the answer to a replay is not signed with the key: %v", macErr)
	}
}

func txtValues(f *fixture) []string {
	var out []string
	for _, r := range f.records() {
		if r.Name == acmeName && r.Type == "TXT" {
			out = append(out, r.Content)
		}
	}
	return out
}

// TestReplayedUpdateChangesNothing: the wire bytes of a signed UPDATE,
// captured and sent again over UDP inside their time window after the zone
// moved on, are refused and change nothing.
func TestReplayedUpdateChangesNothing(t *testing.T) {
	add := func() *dns.Msg {
		m := update(testZone)
		m.Insert(rrs(t, acmeName+". 120 IN TXT captured"))
		return m
	}
	del := func() *dns.Msg {
		m := update(testZone)
		m.Remove(rrs(t, acmeName+". 0 IN TXT captured"))
		return m
	}
	for name, tc := range map[string]struct {
		captured, undo func() *dns.Msg
		before         []string // the TXT values before the capture is sent
		want           []string // ... after it is replayed
	}{
		"should not add back a record a captured add wrote and a later update deleted": {
			captured: add, undo: del, before: nil, want: nil,
		},
		"should not delete again a record a captured delete removed and a later update added back": {
			captured: del, undo: add, before: []string{"captured"}, want: []string{"captured"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			var replays atomic.Int32
			f := newFixture(t, func(o *Options) { o.ReplayObserver = func(string) { replays.Add(1) } })
			if tc.before != nil {
				if r, err := f.exchange("udp", asTeamA, add()); err != nil || r.Rcode != dns.RcodeSuccess {
					t.Fatalf("setup: %v %v", r, err)
				}
			}
			wire, mac := capture(t, asTeamA, tc.captured())
			if r, err := sendWire(t, f.addr, "udp", wire, secretA, mac); err != nil || r.Rcode != dns.RcodeSuccess {
				t.Fatalf("the original: %v %v", r, err)
			}
			if r, err := f.exchange("udp", asTeamA, tc.undo()); err != nil || r.Rcode != dns.RcodeSuccess {
				t.Fatalf("the later update: %v %v", r, err)
			}
			if got := txtValues(f); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("before the replay: %v, want %v", got, tc.want)
			}
			r, err := sendWire(t, f.addr, "udp", wire, secretA, mac)
			if got := txtValues(f); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("the replay changed the zone: %v, want %v", got, tc.want)
			}
			mustRefuseReplay(t, r, err)
			// Over TCP too: the cache is the server's, not the socket's.
			r, err = sendWire(t, f.addr, "tcp", wire, secretA, mac)
			mustRefuseReplay(t, r, err)
			if n := replays.Load(); n != 2 {
				t.Fatalf("%d replays counted, want 2", n)
			}
			if logs := f.logs.String(); !strings.Contains(logs, `"reason":"TSIG replay`) || !strings.Contains(logs, `"level":"WARN"`) {
				t.Fatalf("the replay has no warning audit line:\n%s", logs)
			}
		})
	}
}

// TestReplayedTransferIsRefused: a captured signed AXFR sent again on a new
// connection gets no records.
func TestReplayedTransferIsRefused(t *testing.T) {
	f := newFixture(t, nil)
	seedTransferZone(f)
	wire, mac := capture(t, asTeamA, axfr(testZone))
	if r, err := sendWire(t, f.addr, "tcp", wire, secretA, mac); err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
		t.Fatalf("the original: %v %v", r, err)
	}
	r, err := sendWire(t, f.addr, "tcp", wire, secretA, mac)
	mustRefuseReplay(t, r, err)
	if len(r.Answer) != 0 {
		t.Fatalf("the replayed transfer got %d records", len(r.Answer))
	}
}

// TestReplayFloodIsSampled: a captured update sent a hundred times is
// refused a hundred times, counted each time and logged a handful of times.
func TestReplayFloodIsSampled(t *testing.T) {
	var mu sync.Mutex
	scopes := map[string]int{}
	f := newFixture(t, func(o *Options) {
		o.ReplayObserver = func(s string) { mu.Lock(); scopes[s]++; mu.Unlock() }
	})
	m := update(testZone)
	m.Insert(rrs(t, acmeName+". 120 IN TXT once"))
	wire, mac := capture(t, asTeamA, m)
	if r, _ := sendWire(t, f.addr, "udp", wire, secretA, mac); r.Rcode != dns.RcodeSuccess {
		t.Fatalf("the original: %v", r)
	}
	const n = 100
	for range n {
		r, err := sendWire(t, f.addr, "udp", wire, secretA, mac)
		mustRefuseReplay(t, r, err)
	}
	mu.Lock()
	got := scopes["prod"]
	mu.Unlock()
	if got != n {
		t.Fatalf("replays counted by scope: %v, want %d for prod", scopes, n)
	}
	logs := f.logs.String()
	if lines := strings.Count(logs, `"reason":"TSIG replay`); lines > auditsample.DefaultPerSource {
		t.Fatalf("%d audit lines for one key's replays, want at most %d", lines, auditsample.DefaultPerSource)
	}
	f.srv.logSummary(msgReplayedSummary, f.srv.replayed.Flush(time.Now().Add(time.Hour)))
	if !strings.Contains(f.logs.String(), `"msg":"`+msgReplayedSummary+`","suppressed":`) {
		t.Fatalf("no summary line:\n%s", f.logs.String())
	}
	if v := txtValues(f); len(v) != 1 {
		t.Fatalf("TXT values %v, want the one of the original", v)
	}
}

// TestFullReplayCacheFailsOnlyItsKey: a key that sent as many signed
// requests as its cache holds, all inside their windows, is refused; the
// other key goes on.
func TestFullReplayCacheFailsOnlyItsKey(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.ReplayMACsPerKey = 3 })
	send := func(c client, name string) int {
		m := update(testZone)
		m.Insert(rrs(t, name+". 120 IN TXT flood"))
		r, err := f.exchange("udp", c, m)
		if err != nil {
			t.Fatal(err)
		}
		return r.Rcode
	}
	for i := range 3 {
		if rc := send(asTeamA, acmeName); rc != dns.RcodeSuccess {
			t.Fatalf("request %d: %s", i, dns.RcodeToString[rc])
		}
	}
	if rc := send(asTeamA, acmeName); rc != dns.RcodeRefused {
		t.Fatalf("past the cache: %s, want REFUSED", dns.RcodeToString[rc])
	}
	if !strings.Contains(f.logs.String(), `"reason":"replay cache full`) {
		t.Fatalf("no audit line says why:\n%s", f.logs.String())
	}
	if rc := send(asTeamB, otherName); rc != dns.RcodeSuccess {
		t.Fatalf("the other key: %s, want NOERROR", dns.RcodeToString[rc])
	}
}

// TestPreviousSecretExpiresByTheGatewaysClock: once the gateway's clock
// passes the key's PreviousValidUntil, the previous secret is BADSIG though
// the key still holds it (nobody reconciled it away yet).
func TestPreviousSecretExpiresByTheGatewaysClock(t *testing.T) {
	start := time.Now()
	var offset atomic.Int64
	f := newFixture(t, func(o *Options) {
		o.Now = func() time.Time { return start.Add(time.Duration(offset.Load())) }
	})
	k := teamAKey(f.zoneID)
	k.PreviousValidUntil = start.Add(time.Minute)
	f.keys.Put(k)
	send := func(c client, value string) *dns.Msg {
		m := update(testZone)
		m.Insert(rrs(t, acmeName+". 120 IN TXT "+value))
		r, _ := f.exchange("udp", c, m)
		if r == nil {
			t.Fatal("no answer")
		}
		return r
	}
	if r := send(asTeamAPrev, "inside"); r.Rcode != dns.RcodeSuccess {
		t.Fatalf("inside the overlap: %s, want NOERROR", dns.RcodeToString[r.Rcode])
	}
	offset.Store(int64(2 * time.Minute))
	if held, _ := f.keys.Key(keyA); len(held.Secrets) != 2 {
		t.Fatalf("the key holds %d secrets, want both still", len(held.Secrets))
	}
	r := send(asTeamAPrev, "after")
	if ts := r.IsTsig(); r.Rcode != dns.RcodeNotAuth || ts == nil || ts.Error != dns.RcodeBadSig {
		t.Fatalf("past the overlap: %s %v, want NOTAUTH BADSIG", dns.RcodeToString[r.Rcode], ts)
	}
	if r := send(asTeamA, "current"); r.Rcode != dns.RcodeSuccess {
		t.Fatalf("the current secret: %s, want NOERROR", dns.RcodeToString[r.Rcode])
	}
	if v := txtValues(f); strings.Join(v, ",") != "inside,current" && strings.Join(v, ",") != "current,inside" {
		t.Fatalf("TXT values %v, want inside and current", v)
	}
}

// heldWriter holds every Write until release is closed.
type heldWriter struct {
	ZoneWriter
	entered chan struct{}
	release chan struct{}
}

func (h heldWriter) Write(ctx context.Context, r zonewriter.Request) (zonewriter.Result, error) {
	h.entered <- struct{}{}
	<-h.release
	return h.ZoneWriter.Write(ctx, r)
}

// TestRetransmissionOfAnUpdateInFlightGetsNoAnswer: nsupdate resends the
// identical datagram when the answer is slow. While the original is still
// being written, the resend gets no answer of its own (a refusal would
// reach the client first and report a failure of an update that succeeds);
// the original's NOERROR is the one answer. The record is written once.
func TestRetransmissionOfAnUpdateInFlightGetsNoAnswer(t *testing.T) {
	held := heldWriter{entered: make(chan struct{}, 1), release: make(chan struct{})}
	replays := make(chan string, 1)
	f := newFixture(t, func(o *Options) {
		zw, err := zonewriter.New(zonewriter.Options{Providers: o.Writers})
		if err != nil {
			t.Fatal(err)
		}
		held.ZoneWriter = zw
		o.ZoneWriter = held
		o.ReplayObserver = func(s string) { replays <- s }
	})
	m := update(testZone)
	m.Insert(rrs(t, acmeName+". 120 IN TXT slow"))
	wire, mac := capture(t, asTeamA, m)
	co, err := dns.Dial("udp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	_ = co.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := co.Write(wire); err != nil {
		t.Fatal(err)
	}
	<-held.entered
	// The retransmission, from the same socket as nsupdate's.
	if _, err := co.Write(wire); err != nil {
		t.Fatal(err)
	}
	<-replays
	close(held.release)
	raw, err := co.ReadMsgHeader(nil)
	if err != nil {
		t.Fatal(err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(raw); err != nil {
		t.Fatal(err)
	}
	if r.Rcode != dns.RcodeSuccess {
		t.Fatalf("first answer %s, want the original's NOERROR", dns.RcodeToString[r.Rcode])
	}
	// Nothing else comes: the resend was counted and dropped.
	_ = co.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if raw, err := co.ReadMsgHeader(nil); err == nil {
		extra := new(dns.Msg)
		_ = extra.Unpack(raw)
		t.Fatalf("a second answer came: %s", dns.RcodeToString[extra.Rcode])
	}
	if v := txtValues(f); len(v) != 1 {
		t.Fatalf("TXT values %v, want one", v)
	}
	// Once answered, the same bytes are refused.
	r, err = sendWire(t, f.addr, "udp", wire, secretA, mac)
	mustRefuseReplay(t, r, err)
	<-replays
}

// TestReplayOfAMessageSignedAheadIsRefusedForAsLongAsItIsAccepted: a client
// whose clock runs ahead signs with a Time Signed in the gateway's future.
// Its message is accepted until Time Signed + fudge, so its MAC must be
// remembered that long, not only until now + fudge.
func TestReplayOfAMessageSignedAheadIsRefusedForAsLongAsItIsAccepted(t *testing.T) {
	start := time.Now()
	var offset atomic.Int64
	f := newFixture(t, func(o *Options) {
		o.Now = func() time.Time { return start.Add(time.Duration(offset.Load())) }
	})
	m := update(testZone)
	m.Insert(rrs(t, acmeName+". 120 IN TXT ahead"))
	// Signed 250 s ahead of the gateway (and of the wall clock, which
	// miekg/dns checks too): inside the 300 s fudge.
	m.SetTsig(asTeamA.key, asTeamA.alg, 300, start.Unix()+250)
	wire, mac, err := dns.TsigGenerate(m, asTeamA.secret, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := sendWire(t, f.addr, "udp", wire, secretA, mac); err != nil || r.Rcode != dns.RcodeSuccess {
		t.Fatalf("the original: %v %v", r, err)
	}
	// 310 s on: past now + fudge of the first arrival, and past the cache's
	// sweep interval, but still within Time Signed + fudge.
	offset.Store(int64(310 * time.Second))
	r, err := sendWire(t, f.addr, "udp", wire, secretA, mac)
	mustRefuseReplay(t, r, err)
}
