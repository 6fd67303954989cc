package controllers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/grant"
	"github.com/scopedns/scopedns/internal/provider"
)

// RecordGC removes records that carry this cluster's owner marker but that
// no live claim and no granted gateway key owns: the records of a claim
// whose finalizer was removed by force before its records were, and the
// records the RFC 2136 gateway wrote for a namespace or name that is no
// longer granted. Left in place, such records hold their names forever: the
// next rightful claimant sits at NotOwned, since scopedns never changes a
// record it cannot prove it owns. It runs on the leader only.
//
// A record is removed only when two passes at least Grace apart both found
// it orphaned: a claim created moments ago can have its records written
// before the GC's cache holds the claim. Records without this cluster's
// marker (another cluster's, someone else's, hand-made) are never touched.
type RecordGC struct {
	Client      client.Reader
	Providers   ProviderSource
	ClusterName string
	// Live gives the owners that may still hold records. Required.
	Live LiveSource
	// Deleter writes the deletions; the claim controller, so its zone
	// snapshots stay true and the claims waiting for a freed name are woken.
	// Nil deletes through the provider directly (tests).
	Deleter recordDeleter
	// Interval between passes (default 10m) and Grace, how long a record
	// must stay orphaned before it is removed (default 10m).
	Interval time.Duration
	Grace    time.Duration
	// Now is the GC's clock (wall clock when nil). The grace guards against
	// cache lag, which is wall time whatever clock rotation runs on.
	Now func() time.Time
	// Marks says which zones are this installation's: nothing is collected
	// in a zone another installation of the cluster name marked, since its
	// records carry the same owner markers.
	Marks *ZoneMarks

	// seen is when each orphan was first seen, by zone and record; a pass
	// keeps only what it found orphaned again.
	seen map[string]time.Time
}

// LiveSource gives the set of owners that may hold records now. The GC owns
// this interface; the cluster's answer is ClusterLive, tests hand in a table.
type LiveSource interface {
	Live(ctx context.Context) (LiveOwners, error)
}

// LiveOwners is what may own a record of this cluster. A writer of records
// under this cluster's marker that is not listed here has its records
// collected: a new front door must add its owners.
type LiveOwners struct {
	// Claims holds the owner marker (provider.OwnerComment) of every claim
	// that exists and is not being deleted without the records finalizer.
	Claims map[string]bool
	// Gateway holds, by the gateway's owner marker of a namespace
	// (gateway.OwnerComment), the (name, type) pairs that namespace's key
	// may write: normalised names, upper-case types.
	Gateway map[string]map[grant.Key]bool
}

// recordDeleter deletes records of one zone. The claim controller is one:
// it folds the result into its zone snapshot and wakes the claims at the
// freed names.
type recordDeleter interface {
	deleteRecords(ctx context.Context, p provider.Provider, zoneID string, recs []provider.Record) (provider.ApplyResult, error)
}

// Start collects until ctx ends; it implements manager.Runnable (leader only).
func (g *RecordGC) Start(ctx context.Context) error {
	t := time.NewTicker(orDuration(g.Interval, 10*time.Minute))
	defer t.Stop()
	for {
		if _, err := g.Collect(ctx); err != nil {
			log.FromContext(ctx).Error(err, "record garbage collection failed; retrying next interval")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Collect runs one pass and returns how many records it removed. A zone
// that fails is reported and the others still run.
func (g *RecordGC) Collect(ctx context.Context) (int, error) {
	var scopes v1alpha1.DNSScopeList
	if err := g.Client.List(ctx, &scopes); err != nil {
		return 0, err
	}
	// The live set is read after the scopes and before the records: a claim
	// that appears later is protected by the grace, not by the order.
	live, err := g.Live.Live(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading the live owners: %w", err)
	}
	now := g.now()
	seen := map[string]time.Time{}
	var removed, orphaned int
	var errs []error
	for _, z := range gcZones(scopes.Items) {
		n, waiting, err := g.collectZone(ctx, z, live, now, seen)
		removed += n
		orphaned += waiting
		if err != nil {
			errs = append(errs, fmt.Errorf("zone %s: %w", z.zoneID, err))
		}
	}
	g.seen = seen
	recordsOrphaned.Set(float64(orphaned))
	return removed, errors.Join(errs...)
}

// collectZone lists the zone's marked records, removes those orphaned past
// the grace and returns how many it removed and how many still wait.
func (g *RecordGC) collectZone(ctx context.Context, z gcZone, live LiveOwners, now time.Time, seen map[string]time.Time) (int, int, error) {
	p, scope, err := g.providerFor(ctx, z)
	if err != nil {
		return 0, 0, err
	}
	if err := g.Marks.Check(ctx, p, z.account, provider.Zone{ID: z.zoneID, Name: z.zoneName}); err != nil {
		// Its orphans are forgotten (seen is not carried over): after the
		// conflict ends, the grace starts again.
		return 0, 0, fmt.Errorf("not collecting: %w", err)
	}
	recs, err := p.Records(ctx, z.zoneID, provider.RecordFilter{OwnerPrefix: provider.OwnerPrefix(g.ClusterName)})
	if err != nil {
		return 0, 0, fmt.Errorf("listing records: %w", err)
	}
	due, waiting := dueForRemoval(z.zoneID, orphans(g.ClusterName, recs, live), g.seen, seen, now, orDuration(g.Grace, 10*time.Minute))
	if len(due) == 0 {
		return 0, waiting, nil
	}
	var res provider.ApplyResult
	if g.Deleter != nil {
		res, err = g.Deleter.deleteRecords(ctx, p, z.zoneID, due)
	} else {
		res, err = p.ApplyChanges(ctx, z.zoneID, provider.Changes{Delete: due})
	}
	gone := map[string]bool{}
	for _, id := range res.Deleted {
		gone[id] = true
	}
	for _, r := range due {
		if !gone[r.ID] {
			continue
		}
		kind := ownerKind(r.Comment, live)
		recordsCollected.WithLabelValues(kind).Inc()
		// Name, type and owner only: a TXT value may be a challenge token.
		log.FromContext(ctx).Info("removed a record no live owner holds",
			"zoneID", z.zoneID, "name", r.Name, "type", r.Type, "owner", r.Comment, "kind", kind, "scope", scope.Name)
	}
	if err != nil {
		return len(gone), waiting, fmt.Errorf("deleting %d orphaned records: %w", len(due), err)
	}
	return len(gone), waiting, nil
}

// orphans returns the records that carry this cluster's owner marker and
// that no live claim or granted gateway key owns. Records without this
// cluster's marker are never returned, whatever the filter let through.
func orphans(cluster string, records []provider.Record, live LiveOwners) []provider.Record {
	var out []provider.Record
	for _, r := range records {
		o, ok := provider.ParseOwner(r.Comment)
		if !ok || !o.IsCluster(cluster) {
			continue
		}
		if live.Claims[r.Comment] {
			continue
		}
		if keys, ok := live.Gateway[r.Comment]; ok && keys[recordKey(r)] {
			continue
		}
		out = append(out, r)
	}
	return out
}

// dueForRemoval returns the orphans first seen at least grace ago (in prev),
// and how many others wait; it records in next when each orphan was first
// seen, so a record that stops being orphaned starts over.
func dueForRemoval(zoneID string, orphaned []provider.Record, prev, next map[string]time.Time, now time.Time, grace time.Duration) ([]provider.Record, int) {
	var due []provider.Record
	waiting := 0
	for _, r := range orphaned {
		// The comment is part of the key: a record rewritten for a new
		// owner under the same ID is a new orphan, if it is one at all.
		k := zoneID + "\x00" + r.ID + "\x00" + r.Comment
		first, ok := prev[k]
		if !ok {
			first = now
		}
		if now.Sub(first) >= grace && ok {
			due = append(due, r)
			continue
		}
		next[k] = first
		waiting++
	}
	return due, waiting
}

// ownerKind says, for the metric and the log, whose record it was.
func ownerKind(comment string, live LiveOwners) string {
	if o, ok := provider.ParseOwner(comment); ok && o.Hashed && o.Claim == gatewayClaimPart {
		return "gateway"
	}
	if _, ok := live.Gateway[comment]; ok {
		return "gateway"
	}
	return "claim"
}

// gatewayClaimPart is what ParseOwner reads as the claim of a gateway marker:
// the gateway's reserved claim part "@rfc2136", sanitised.
const gatewayClaimPart = "-rfc2136"

// gcZone is one zone to collect in, through the provider of any of the
// scopes that name it.
type gcZone struct {
	scopes   []*v1alpha1.DNSScope
	account  string
	zoneID   string
	zoneName string
}

// providerFor is the first of the zone's scopes' providers that can be built:
// one scope whose master Secret is gone must not keep a shared zone from
// being collected.
func (g *RecordGC) providerFor(ctx context.Context, z gcZone) (provider.Provider, *v1alpha1.DNSScope, error) {
	var errs []error
	for _, s := range z.scopes {
		p, err := g.Providers.For(ctx, s)
		if err == nil {
			return p, s, nil
		}
		errs = append(errs, fmt.Errorf("DNSScope %s: %w", s.Name, err))
	}
	return nil, nil, errors.Join(errs...)
}

// gcZones lists the zones of Ready scopes, each once per provider account:
// two scopes naming one zone of one account would list it twice.
func gcZones(scopes []v1alpha1.DNSScope) []gcZone {
	sort.Slice(scopes, func(i, j int) bool { return scopes[i].Name < scopes[j].Name })
	index := map[string]int{}
	var out []gcZone
	for i := range scopes {
		s := &scopes[i]
		account := providerAccount(s)
		if account == "" || !isReady(s) || !s.DeletionTimestamp.IsZero() {
			continue
		}
		for _, z := range s.Status.Zones {
			if z.ID == "" {
				continue
			}
			k := account + "\x00" + z.ID
			if j, ok := index[k]; ok {
				out[j].scopes = append(out[j].scopes, s)
				continue
			}
			index[k] = len(out)
			out = append(out, gcZone{scopes: []*v1alpha1.DNSScope{s}, account: account, zoneID: z.ID, zoneName: z.Name})
		}
	}
	return out
}

func (g *RecordGC) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
