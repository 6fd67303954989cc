package controllers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/grant"
	"github.com/scopedns/scopedns/internal/policy"
	"github.com/scopedns/scopedns/internal/provider"
)

// recordEval is what the controller decided for one record of a claim.
type recordEval struct {
	spec  v1alpha1.RecordSpec
	key   grant.Key
	zone  string
	state v1alpha1.RecordState
	msg   string
}

// reconcile decides, writes and reports. Status is filled in place; the
// caller patches it.
func (r *ClaimReconciler) reconcile(ctx context.Context, claim *v1alpha1.DNSRecordClaim) (ctrl.Result, error) {
	scope, evals, reason, msg, err := r.evaluate(ctx, claim)
	if err != nil {
		return ctrl.Result{}, err
	}
	accepted := reason == ""
	if !accepted {
		setCondition(&claim.Status.Conditions, claim.Generation, v1alpha1.ConditionAccepted, false, reason, msg)
	} else {
		setCondition(&claim.Status.Conditions, claim.Generation, v1alpha1.ConditionAccepted, true, v1alpha1.ReasonReconciled, "every record lies inside DNSScope "+scope.Name)
	}
	if scope == nil {
		r.setStatus(claim, evals, nil, reason, msg)
		return ctrl.Result{}, nil
	}
	if !isReady(scope) {
		r.setStatus(claim, evals, scope, v1alpha1.ReasonProgressing, "waiting for DNSScope "+scope.Name+" to be Ready")
		return ctrl.Result{}, nil // the scope watch requeues
	}

	written, err := r.syncRecords(ctx, scope, claim, evals)
	if errors.Is(err, provider.ErrClusterNameConflict) {
		// Nothing to retry until the admins settle it; ZoneMarks looks
		// again once a minute.
		r.setStatus(claim, evals, scope, v1alpha1.ReasonClusterNameConflict, err.Error())
		r.Recorder.Eventf(claim, nil, corev1.EventTypeWarning, v1alpha1.ReasonClusterNameConflict, "WriteRecords", "%v", err)
		return ctrl.Result{RequeueAfter: conflictRecheck}, nil
	}
	if err != nil {
		r.setStatus(claim, evals, scope, v1alpha1.ReasonProviderError, err.Error())
		r.Recorder.Eventf(claim, nil, corev1.EventTypeWarning, v1alpha1.ReasonProviderError, "WriteRecords", "%v", err)
		return ctrl.Result{}, err
	}
	if written > 0 {
		r.Recorder.Eventf(claim, nil, corev1.EventTypeNormal, "RecordsChanged", "WriteRecords", "%d record changes applied", written)
	}
	readyReason, readyMsg := reason, msg
	if accepted {
		readyReason, readyMsg = firstProblem(evals)
	}
	r.setStatus(claim, evals, scope, readyReason, readyMsg)
	if readyReason == "" {
		claim.Status.ObservedGeneration = claim.Generation
	}
	return ctrl.Result{RequeueAfter: jitter(r.DriftInterval)}, nil
}

// jitter adds up to a tenth to d, so claims created together do not all
// come back for their drift check in the same instant.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d + rand.N(d/10+1)
}

// evaluate asks the one verdict (policy.Decide) about the claim, with the
// older claim winning conflicts. A non-empty reason means the claim is not
// (fully) accepted. The scope is nil when it does not exist.
func (r *ClaimReconciler) evaluate(ctx context.Context, claim *v1alpha1.DNSRecordClaim) (*v1alpha1.DNSScope, []recordEval, string, string, error) {
	var scope *v1alpha1.DNSScope
	var s v1alpha1.DNSScope
	switch err := r.Client.Get(ctx, client.ObjectKey{Name: claim.Spec.ScopeName}, &s); {
	case err == nil:
		scope = &s
	case !apierrors.IsNotFound(err):
		return nil, nil, "", "", err
	}
	var ns corev1.Namespace
	if err := r.Client.Get(ctx, client.ObjectKey{Name: claim.Namespace}, &ns); err != nil {
		return nil, nil, "", "", err
	}
	verdict, err := policy.Decide(ctx, policy.Input{
		Claim: claim, Scope: scope, NamespaceLabels: ns.Labels,
		Contest: policy.OlderWins, Cluster: policy.Indexed{Reader: r.Client}, Policies: r.Policies,
		ConcealHolders: r.ConcealHolders,
	})
	if err != nil {
		return nil, nil, "", "", err
	}
	if r.ConcealHolders {
		r.Holders.Log(log.FromContext(ctx), claim, verdict)
	}
	evals := make([]recordEval, len(claim.Spec.Records))
	for i, rv := range verdict.Records {
		e := recordEval{spec: claim.Spec.Records[i], key: rv.Key, zone: rv.Match.Zone, state: v1alpha1.RecordPending}
		switch {
		case rv.Allowed:
		case len(rv.Conflicts) > 0:
			e.state, e.msg = v1alpha1.RecordConflict, rv.Message
		default:
			e.state, e.msg, e.zone = v1alpha1.RecordRefused, rv.Message, ""
		}
		evals[i] = e
	}
	return scope, evals, verdict.Reason, verdict.Message, nil
}

// syncRecords writes the claim's records zone by zone and returns how many
// record changes it applied. Records of keys that are refused or in conflict
// are not desired, so the claim's own earlier records there are removed.
func (r *ClaimReconciler) syncRecords(ctx context.Context, scope *v1alpha1.DNSScope, claim *v1alpha1.DNSRecordClaim, evals []recordEval) (int, error) {
	p, err := r.Providers.For(ctx, scope)
	if err != nil {
		return 0, err
	}
	owner := provider.OwnerComment(r.ClusterName, claim.Namespace, claim.Name)
	desired := map[string][]provider.Record{} // zone ID -> records
	names := map[string]map[string]bool{}
	for i := range evals {
		e := &evals[i]
		if e.state != v1alpha1.RecordPending {
			continue
		}
		if len(e.spec.Values) == 0 {
			e.state = v1alpha1.RecordReserved
			continue
		}
		zoneID := zoneIDOf(scope, e.zone)
		if zoneID == "" {
			e.state, e.msg = v1alpha1.RecordError, "zone "+e.zone+" is not resolved at the provider"
			continue
		}
		for _, v := range e.spec.Values {
			desired[zoneID] = append(desired[zoneID], provider.Record{Name: e.key.Name, Type: e.key.Type, Content: v, TTL: int(e.spec.TTL), Comment: owner})
		}
		if names[zoneID] == nil {
			names[zoneID] = map[string]bool{}
		}
		names[zoneID][e.key.Name] = true
	}
	// Zones where the claim had records before but wants none now.
	for _, z := range scope.Status.Zones {
		if _, ok := desired[z.ID]; !ok && z.ID != "" && contains(claim.Status.Zones, z.Name) {
			desired[z.ID] = nil
		}
	}

	var total int
	var errs []error
	notOwned := map[grant.Key]provider.Record{}
	failed := map[string]error{} // zone ID -> why writing there failed
	for _, zoneID := range sortedZoneIDs(desired) {
		if err := r.checkZone(ctx, p, scope, zoneID); err != nil {
			errs = append(errs, err)
			failed[zoneID] = err
			continue
		}
		n, blocked, err := r.syncZone(ctx, p, zoneID, owner, desired[zoneID], names[zoneID])
		total += n
		for k, v := range blocked {
			notOwned[k] = v
		}
		if err != nil {
			errs = append(errs, err)
			failed[zoneID] = err
		}
	}
	for i := range evals {
		e := &evals[i]
		if e.state != v1alpha1.RecordPending {
			continue
		}
		if rec, ok := notOwned[e.key]; ok {
			why, hidden := describeOwner(rec, claim.Namespace, r.ConcealHolders)
			if hidden && r.Holders.Allow(claim.Namespace) {
				log.FromContext(ctx).Info("record not owned: held by a claim of another namespace, not named to the tenant", "record", e.key.Name, "type", e.key.Type, "holder", rec.Comment)
			}
			e.state, e.msg = v1alpha1.RecordNotOwned, "a record at this name is "+why+"; scopedns never changes records it did not write"
		} else if err, ok := failed[zoneIDOf(scope, e.zone)]; ok {
			// The provider's own words: a claim refused alone (see
			// batcher) is told what the provider refused.
			e.state, e.msg = v1alpha1.RecordError, err.Error()
		} else {
			e.state = v1alpha1.RecordWritten
		}
	}
	return total, errors.Join(errs...)
}

func (r *ClaimReconciler) syncZone(ctx context.Context, p provider.Provider, zoneID, owner string, desired []provider.Record, names map[string]bool) (int, map[grant.Key]provider.Record, error) {
	plan, err := r.planZone(ctx, p, zoneID, owner, desired, names)
	if err != nil || plan.Changes.IsEmpty() {
		return 0, plan.NotOwned, err
	}
	res, err := r.batches.Apply(ctx, p, zoneID, plan.Changes)
	z := r.zones.lock(zoneID)
	z.applied(res)
	if err != nil && !provider.IsInvalid(err) {
		// A batch refused as invalid changed nothing (it is one
		// transaction), so the snapshot still holds; any other failure
		// leaves it in doubt. Keeping it spares a zone list on every retry
		// of a claim the provider refuses.
		z.invalidate()
	}
	z.mu.Unlock()
	if err != nil {
		return len(res.Created) + len(res.Updated) + len(res.Deleted), plan.NotOwned, fmt.Errorf("writing records in zone %s: %w", zoneID, err)
	}
	return plan.Changes.Len(), plan.NotOwned, nil
}

// checkZone refuses a zone that is not this installation's (ZoneMarks).
// The claim's words name no other installation: those are for the admins,
// on the DNSScope.
func (r *ClaimReconciler) checkZone(ctx context.Context, p provider.Provider, scope *v1alpha1.DNSScope, zoneID string) error {
	name := zoneNameOf(scope, zoneID)
	err := r.Marks.Check(ctx, p, providerAccount(scope), provider.Zone{ID: zoneID, Name: name})
	if errors.Is(err, provider.ErrClusterNameConflict) {
		return fmt.Errorf("%w: zone %s: another installation of this operator uses its cluster name on the provider account, "+
			"so records there are neither written nor removed until the platform admins resolve it (DNSScope %s, condition %s)",
			provider.ErrClusterNameConflict, name, scope.Name, v1alpha1.ConditionClusterNameConflict)
	}
	if err != nil {
		return fmt.Errorf("checking the cluster marker of zone %s: %w", name, err)
	}
	return nil
}

func zoneNameOf(scope *v1alpha1.DNSScope, zoneID string) string {
	for _, z := range scope.Status.Zones {
		if z.ID == zoneID {
			return z.Name
		}
	}
	return ""
}

// planZone plans one claim's changes against the zone's snapshot, listing
// the zone first when the snapshot is too old.
func (r *ClaimReconciler) planZone(ctx context.Context, p provider.Provider, zoneID, owner string, desired []provider.Record, names map[string]bool) (zonePlan, error) {
	z := r.zones.lock(zoneID)
	defer z.mu.Unlock()
	if err := z.load(ctx, p, zoneID, r.now(), r.DriftInterval); err != nil {
		return zonePlan{}, fmt.Errorf("listing records of zone %s: %w", zoneID, err)
	}
	plan := planRecords(desired, dedupe(append(z.named(names), z.owned(owner)...)), owner)
	if len(plan.Changes.Create) > 0 && r.now().Sub(z.fetched) > r.FreshFor {
		// Creating beside a record someone else wrote since the snapshot
		// would touch a name we do not own: look again before writing.
		z.invalidate()
		if err := z.load(ctx, p, zoneID, r.now(), r.DriftInterval); err != nil {
			return zonePlan{}, fmt.Errorf("listing records of zone %s: %w", zoneID, err)
		}
		plan = planRecords(desired, dedupe(append(z.named(names), z.owned(owner)...)), owner)
	}
	return plan, nil
}

// removeOwnedRecords deletes every record of the claim in every zone of the scope.
func (r *ClaimReconciler) removeOwnedRecords(ctx context.Context, scope *v1alpha1.DNSScope, claim *v1alpha1.DNSRecordClaim) error {
	if !isReady(scope) {
		return fmt.Errorf("DNSScope %s is not Ready; the claim's records are removed once it is", scope.Name)
	}
	p, err := r.Providers.For(ctx, scope)
	if err != nil {
		return err
	}
	owner := provider.OwnerComment(r.ClusterName, claim.Namespace, claim.Name)
	var removed int
	for _, z := range scope.Status.Zones {
		if z.ID == "" {
			continue
		}
		if err := r.checkZone(ctx, p, scope, z.ID); err != nil {
			return err
		}
		n, _, err := r.syncZone(ctx, p, z.ID, owner, nil, nil)
		if err != nil {
			return err
		}
		removed += n
	}
	if removed > 0 {
		r.Recorder.Eventf(claim, nil, corev1.EventTypeNormal, "RecordsRemoved", "DeleteRecords", "%d records removed", removed)
	}
	return nil
}

func dedupe(rs []provider.Record) []provider.Record {
	seen := map[string]bool{}
	out := rs[:0]
	for _, r := range rs {
		if !seen[r.ID] {
			seen[r.ID] = true
			out = append(out, r)
		}
	}
	return out
}

func zoneIDOf(scope *v1alpha1.DNSScope, zone string) string {
	for _, z := range scope.Status.Zones {
		if z.Name == zone {
			return z.ID
		}
	}
	return ""
}

func sortedZoneIDs(m map[string][]provider.Record) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isReady(scope *v1alpha1.DNSScope) bool {
	for _, c := range scope.Status.Conditions {
		if c.Type == v1alpha1.ConditionReady {
			return c.Status == "True"
		}
	}
	return false
}

// deleteRecords removes records the record GC found orphaned. It goes
// around the batcher on purpose: a delete of a record removed meanwhile
// fails its whole batch, and must not fail the claims that would share it.
// It holds the zone's snapshot lock across the write so no claim plans
// against records that are going away, folds the result into the snapshot,
// and wakes the claims at the freed names: one that reported NotOwned there
// may write now instead of at its next drift check.
func (r *ClaimReconciler) deleteRecords(ctx context.Context, p provider.Provider, zoneID string, recs []provider.Record) (provider.ApplyResult, error) {
	z := r.zones.lock(zoneID)
	res, err := p.ApplyChanges(ctx, zoneID, provider.Changes{Delete: recs})
	z.applied(res)
	if err != nil {
		z.invalidate()
	}
	z.mu.Unlock()
	if len(res.Deleted) > 0 {
		r.wakeClaimsAt(ctx, recs)
	}
	return res, err
}

// wakeClaimsAt enqueues every claim that names one of the records' names.
func (r *ClaimReconciler) wakeClaimsAt(ctx context.Context, recs []provider.Record) {
	if r.wake == nil {
		return
	}
	seen := map[client.ObjectKey]bool{}
	for _, name := range uniqueNames(recs) {
		var claims v1alpha1.DNSRecordClaimList
		if err := r.Client.List(ctx, &claims, client.MatchingFields{policy.NameIndex: name}); err != nil {
			log.FromContext(ctx).Error(err, "listing the claims at a freed name", "name", name)
			continue
		}
		for i := range claims.Items {
			c := &claims.Items[i]
			if k := client.ObjectKeyFromObject(c); !seen[k] {
				seen[k] = true
				select {
				case r.wake <- event.GenericEvent{Object: c}:
				case <-ctx.Done():
					return
				}
			}
		}
	}
}

func uniqueNames(recs []provider.Record) []string {
	seen := map[string]bool{}
	var out []string
	for _, rec := range recs {
		if n := provider.NormalizeName(rec.Name); !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
