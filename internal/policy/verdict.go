package policy

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/grant"
)

// Cluster is what a verdict reads of the cluster besides the claim itself:
// the claims that may hold a key conflicting with one of the claim's keys,
// and the scope and namespace of each of them, to decide whether it holds
// that key. Nothing of a claim's status is ever read: tenants may be able
// to write it, and it lags. Indexed implements it on the manager's cache.
type Cluster interface {
	// Holders returns every claim that may hold a key conflicting with k
	// (HolderLookups); grant.Conflicts stays the judge. The claims may be
	// the cache's own (Indexed): read them, DeepCopy before changing one.
	Holders(ctx context.Context, k grant.Key) ([]v1alpha1.DNSRecordClaim, error)
	// Scope returns the named scope, or nil when it does not exist.
	Scope(ctx context.Context, name string) (*v1alpha1.DNSScope, error)
	// NamespaceLabels returns a namespace's labels; false when it does not exist.
	NamespaceLabels(ctx context.Context, name string) (map[string]string, bool, error)
	// Scopes returns every scope: a name another scope's templates give to
	// another namespace is refused too.
	Scopes(ctx context.Context) ([]v1alpha1.DNSScope, error)
}

// Contest says against which other claims a claim's keys are checked.
type Contest int

const (
	// OlderWins is the controllers' rule (the claim controller and the
	// gateway keys): every key of the claim against every older claim, of
	// any namespace. The older claim wins.
	OlderWins Contest = iota
	// OtherNamespaces is admission's rule: the keys an update adds (every
	// key, on create) against the claims of other namespaces, whatever their
	// age. Claims of one namespace are settled by the controller, and a
	// claim admitted while the webhook was off, holding a contested name,
	// can still be edited.
	OtherNamespaces
)

// Input is everything the one verdict is decided from.
type Input struct {
	// Claim is the claim judged; only its spec and metadata are read.
	Claim *v1alpha1.DNSRecordClaim
	// Scope is the claim's scope, nil when it does not exist.
	Scope *v1alpha1.DNSScope
	// NamespaceLabels are the labels of the claim's namespace.
	NamespaceLabels map[string]string
	// Contest picks the rule conflicts are settled by.
	Contest Contest
	// Old is the claim before an update under OtherNamespaces: the keys it
	// already asked for are not contested again.
	Old *v1alpha1.DNSRecordClaim
	// Cluster finds the other claims; nil decides without conflicts.
	Cluster Cluster
	// Policies compiles scopes; nil compiles without a cache.
	Policies *Cache
	// ConcealHolders words a conflict with a claim of another namespace
	// "already claimed by another namespace", without naming it, in the
	// messages a tenant reads (admission, the claim's status). The
	// conflicts themselves (RecordVerdict.Conflicts) still name the holder,
	// for the operator's logs and kubectl scopedns can-i.
	ConcealHolders bool
}

// Verdict is the decision for one claim and each of its records.
type Verdict struct {
	// Accepted is false when any record is refused; Reason and Message then
	// say why, for the claim's Accepted condition.
	Accepted        bool
	Reason, Message string
	// Records are in the order of spec.records.
	Records []RecordVerdict
}

// RecordVerdict is the decision for one record of a claim.
type RecordVerdict struct {
	Index int
	// Key is the normalised name and type (the lower-cased name as written
	// when it does not normalise).
	Key     grant.Key
	Allowed bool
	// Reason and Message say why a record is refused.
	Reason, Message string
	// Cause is set on the records that broke a rule; the others of a claim
	// refused as a whole are refused with it, Cause unset.
	Cause bool
	// Match is the granting rule (zone, maxTTL), set when the record lies
	// inside the grant.
	Match grant.Match
	// Conflicts are the keys other claims hold against this record.
	Conflicts []Conflict
}

// Record-level reasons of the rules one claim must keep within itself, and
// of a record refused only because its claim is.
const (
	ReasonDuplicateRecord = "DuplicateRecord"
	ReasonCNAMEBesideType = "CNAMEBesideOtherType"
	ReasonCNAMESelf       = "CNAMEToItself"
	ReasonWithClaim       = "ClaimRefused"
)

// Func is one policy of the chain: it looks at the evaluation, may refuse
// records, and says whether the claim fails and why.
type Func func(ctx context.Context, e *evaluation) (reason, message string, failed bool, err error)

// Chain runs its policies in order and stops at the first that fails: a
// claim outside its grant is not looked up for conflicts.
type Chain []Func

func (c Chain) run(ctx context.Context, e *evaluation) (string, string, bool, error) {
	for _, f := range c {
		reason, msg, failed, err := f(ctx, e)
		if err != nil || failed {
			return reason, msg, failed, err
		}
	}
	return "", "", false, nil
}

// claimChain decides whether a claim is valid on its own: its scope, its
// namespace, its grant and the rules inside one claim. What a claim holds
// against others is decided by this chain alone (see holds).
var claimChain = Chain{scopeExists, scopeLive, namespaceSelected, scopeCompiles, recordsInGrant, recordsConsistent}

// verdictChain adds the conflicts with other claims.
var verdictChain = append(append(Chain(nil), claimChain...), noHeldConflicts)

// Decide is the one verdict on "may this namespace hold these records": the
// admission webhook, the claim controller and the gateway keys all call it.
func Decide(ctx context.Context, in Input) (Verdict, error) {
	e := newEvaluation(in)
	reason, msg, failed, err := verdictChain.run(ctx, e)
	if err != nil {
		return Verdict{}, err
	}
	v := Verdict{Accepted: !failed, Records: e.records}
	if failed {
		v.Reason, v.Message = reason, msg
	}
	return v, nil
}

// evaluation is one run of a chain: the input, what the policies found so
// far, and what was learnt about other claims (each is judged once per run).
type evaluation struct {
	Input
	compiled *grant.Compiled
	records  []RecordVerdict
	valid    map[types.NamespacedName]bool
	// scopes are every scope, listed once per run and shared with the runs
	// on other claims (validAlone).
	scopes *[]v1alpha1.DNSScope
}

func newEvaluation(in Input) *evaluation {
	e := &evaluation{Input: in, records: make([]RecordVerdict, len(in.Claim.Spec.Records))}
	for i, r := range in.Claim.Spec.Records {
		e.records[i] = RecordVerdict{Index: i, Key: keyOf(r), Allowed: true}
	}
	return e
}

// keyOf is a record's key: the normalised name, or the name as written in
// lower case when it does not normalise (so a status can still name it).
func keyOf(r v1alpha1.RecordSpec) grant.Key {
	n, err := grant.NormalizeName(r.Name)
	if err != nil {
		n = strings.ToLower(r.Name)
	}
	return grant.Key{Name: n, Type: string(r.Type)}
}

// refuse marks record i as breaking a rule.
func (e *evaluation) refuse(i int, reason, msg string) {
	rv := &e.records[i]
	rv.Allowed, rv.Cause, rv.Reason, rv.Message = false, true, reason, msg
}

// refuseRest refuses every record still allowed along with its claim.
func (e *evaluation) refuseRest(reason, msg string) {
	for i := range e.records {
		if rv := &e.records[i]; rv.Allowed {
			rv.Allowed, rv.Reason, rv.Message = false, reason, msg
		}
	}
}

// claimFails refuses every record with the claim's own reason and message.
func (e *evaluation) claimFails(reason, msg string) (string, string, bool, error) {
	e.refuseRest(reason, msg)
	return reason, msg, true, nil
}

// causes joins the messages of the records that broke a rule, naming each.
func (e *evaluation) causes() string {
	var msgs []string
	for _, rv := range e.records {
		if rv.Cause {
			msgs = append(msgs, fmt.Sprintf("spec.records[%d]: %s", rv.Index, rv.Message))
		}
	}
	return strings.Join(msgs, "; ")
}

func scopeExists(_ context.Context, e *evaluation) (string, string, bool, error) {
	if e.Scope == nil {
		return e.claimFails(v1alpha1.ReasonScopeNotFound, ScopeNotFoundMessage(e.Claim.Spec.ScopeName))
	}
	return "", "", false, nil
}

func scopeLive(_ context.Context, e *evaluation) (string, string, bool, error) {
	if !e.Scope.DeletionTimestamp.IsZero() {
		// Nothing is written under a scope on its way out: its claims'
		// records are removed.
		return e.claimFails(v1alpha1.ReasonScopeNotFound, fmt.Sprintf("DNSScope %q is being deleted; the claim's records are removed", e.Scope.Name))
	}
	return "", "", false, nil
}

func namespaceSelected(_ context.Context, e *evaluation) (string, string, bool, error) {
	ok, err := Selects(e.Scope, e.NamespaceLabels)
	if err != nil || !ok {
		return e.claimFails(v1alpha1.ReasonNamespaceNotInScope, NotSelectedMessage(e.Scope, e.Claim.Namespace))
	}
	return "", "", false, nil
}

func scopeCompiles(_ context.Context, e *evaluation) (string, string, bool, error) {
	compiled, err := e.Policies.Compile(e.Scope)
	if err != nil {
		return e.claimFails(v1alpha1.ReasonOutsideGrant, fmt.Sprintf("DNSScope %q is invalid and grants nothing: %v", e.Scope.Name, err))
	}
	e.compiled = compiled
	return "", "", false, nil
}

// recordsInGrant checks every record against the grant, never stopping at
// the first refusal: a user fixing a claim wants to see every wrong record
// at once. Nothing of a claim outside its grant is written, so a narrowed
// scope removes the claim's records rather than keeping some.
func recordsInGrant(ctx context.Context, e *evaluation) (string, string, bool, error) {
	refused := false
	for i, d := range CheckClaim(e.compiled, e.Claim.Namespace, e.Claim) {
		e.records[i].Key = d.Key
		if d.Err != nil {
			e.refuse(i, grantReason(d.Err), d.Err.Error())
			refused = true
			continue
		}
		e.records[i].Match = d.Match
	}
	if !refused {
		var err error
		if refused, err = e.otherScopesExpansions(ctx); err != nil {
			return "", "", false, err
		}
	}
	if !refused {
		return "", "", false, nil
	}
	e.refuseRest(ReasonWithClaim, "the claim has records outside its grant")
	return v1alpha1.ReasonOutsideGrant, e.causes(), true, nil
}

// otherScopesExpansions refuses each record granted by the claim's scope
// whose name another scope's templates give to another namespace (Check
// has done it within the claim's own scope): where two namespaces'
// expansions meet, neither may hold the name, whichever scopes they come
// from. Scopes being deleted grant nothing and are left out, and so are
// invalid ones. Without a Cluster (a verdict without conflicts) it is
// skipped.
func (e *evaluation) otherScopesExpansions(ctx context.Context) (bool, error) {
	if e.Cluster == nil {
		return false, nil
	}
	if e.scopes == nil {
		e.scopes = new([]v1alpha1.DNSScope)
	}
	if *e.scopes == nil {
		all, err := e.Cluster.Scopes(ctx)
		if err != nil {
			return false, err
		}
		*e.scopes = append(make([]v1alpha1.DNSScope, 0, len(all)), all...)
	}
	scopes := *e.scopes
	refused := false
	for i := range scopes {
		s := &scopes[i]
		if s.Name == e.Scope.Name || !s.DeletionTimestamp.IsZero() {
			continue
		}
		other, err := e.Policies.Compile(s)
		if err != nil {
			continue
		}
		for j := range e.records {
			rv := &e.records[j]
			if !rv.Allowed {
				continue
			}
			a, ok := other.CoversForOther(e.compiled, e.Claim.Namespace, rv.Match, rv.Key.Type == string(v1alpha1.RecordTypeNS))
			if !ok {
				continue
			}
			a.Scope = s.Name
			d := grant.OtherExpansionDenial(e.Claim.Namespace, rv.Match, rv.Key.Type, a)
			e.refuse(j, string(d.Reason), d.Error())
			refused = true
		}
	}
	return refused, nil
}

func grantReason(err error) string {
	if d, ok := err.(*grant.Denial); ok {
		return string(d.Reason)
	}
	return v1alpha1.ReasonOutsideGrant
}

// recordsConsistent refuses, inside one claim, what the provider would
// refuse in the claim's batch, which fails the whole zone batch it joins
// (every other namespace's changes in it with it): the same (name, type)
// twice, a CNAME beside any other type at its name, a CNAME pointing at its
// own name. Names are compared after grant.NormalizeName, so "dup.x" and
// "DUP.x." are one name. The grant stage has normalised every name.
func recordsConsistent(_ context.Context, e *evaluation) (string, string, bool, error) {
	first := make(map[grant.Key]int, len(e.records))
	cname := map[string]int{} // name -> index of its CNAME
	other := map[string]int{} // name -> index of its first other type
	for i, r := range e.Claim.Spec.Records {
		k := e.records[i].Key
		if j, ok := first[k]; ok {
			e.refuse(i, ReasonDuplicateRecord, DuplicateMessage(k, j))
			continue
		}
		first[k] = i
		if k.Type == string(v1alpha1.RecordTypeCNAME) {
			if j, ok := other[k.Name]; ok {
				e.refuse(i, ReasonCNAMEBesideType, CNAMEBesideMessage(k, e.records[j].Key.Type, j))
				continue
			}
			cname[k.Name] = i
			for _, v := range r.Values {
				if target, err := grant.NormalizeName(v); err == nil && target == k.Name {
					e.refuse(i, ReasonCNAMESelf, CNAMESelfMessage(k))
					break
				}
			}
			continue
		}
		if j, ok := cname[k.Name]; ok {
			e.refuse(i, ReasonCNAMEBesideType, CNAMEBesideMessage(k, string(v1alpha1.RecordTypeCNAME), j))
			continue
		}
		if _, ok := other[k.Name]; !ok {
			other[k.Name] = i
		}
	}
	msg := e.causes()
	if msg == "" {
		return "", "", false, nil
	}
	e.refuseRest(ReasonWithClaim, "the claim has records the provider would refuse together")
	return v1alpha1.ReasonInvalidRecords, msg, true, nil
}

// noHeldConflicts refuses each record whose key conflicts with a key
// another claim holds (holds), under the Contest rule. The claim's other
// records stay allowed: a conflict refuses only the contested records.
func noHeldConflicts(ctx context.Context, e *evaluation) (string, string, bool, error) {
	if e.Cluster == nil {
		return "", "", false, nil
	}
	had := map[grant.Key]bool{}
	if e.Contest == OtherNamespaces && e.Old != nil {
		for _, k := range Keys(e.Old) {
			had[k] = true
		}
	}
	done := map[grant.Key][]Conflict{}
	for i := range e.records {
		k := e.records[i].Key
		if had[k] {
			continue
		}
		conflicts, seen := done[k]
		if !seen {
			var err error
			if conflicts, err = e.heldConflicts(ctx, k); err != nil {
				return "", "", false, err
			}
			done[k] = conflicts
		}
		if len(conflicts) == 0 {
			continue
		}
		msgs := make([]string, len(conflicts))
		for j, c := range conflicts {
			msgs[j] = ConflictMessage(c, e.ConcealHolders && c.Holder.Namespace != e.Claim.Namespace)
		}
		e.refuse(i, v1alpha1.ReasonConflict, strings.Join(msgs, "; "))
		e.records[i].Conflicts = conflicts
	}
	if msg := e.causes(); msg != "" {
		return v1alpha1.ReasonConflict, msg, true, nil
	}
	return "", "", false, nil
}

// contested reports whether the Contest rule checks the claim's keys
// against other.
func (e *evaluation) contested(other *v1alpha1.DNSRecordClaim) bool {
	if e.Contest == OtherNamespaces {
		return other.Namespace != e.Claim.Namespace
	}
	return Older(other, e.Claim)
}

// heldConflicts returns the keys conflicting with k that contested claims hold.
func (e *evaluation) heldConflicts(ctx context.Context, k grant.Key) ([]Conflict, error) {
	holders, err := e.Cluster.Holders(ctx, k)
	if err != nil {
		return nil, err
	}
	var out []Conflict
	for i := range holders {
		h := &holders[i]
		if e.same(h) || !h.DeletionTimestamp.IsZero() || !e.contested(h) {
			continue
		}
		for _, hk := range Keys(h) {
			if !grant.Conflicts(k, hk) {
				continue
			}
			held, err := e.holds(ctx, h, hk)
			if err != nil {
				return nil, err
			}
			if held {
				out = append(out, Conflict{Key: k, Holder: types.NamespacedName{Namespace: h.Namespace, Name: h.Name}, HolderKey: hk})
			}
		}
	}
	return out, nil
}

// holds decides whether claim h holds key k against others, from specs,
// scopes and namespaces only, one level deep: h holds k when h is valid on
// its own (claimChain: its scope exists and selects its namespace, every
// record lies inside its grant, its records keep the rules of one claim)
// and no older live claim that is itself valid on its own asks for a key
// conflicting with k. Whether that older claim in turn lost its key to an
// even older one is not asked: that would follow chains of claims without
// end. So a claim refused for a conflict holds no names against others,
// and a claim refused outside its grant holds none either.
func (e *evaluation) holds(ctx context.Context, h *v1alpha1.DNSRecordClaim, k grant.Key) (bool, error) {
	ok, err := e.validAlone(ctx, h)
	if err != nil || !ok {
		return false, err
	}
	others, err := e.Cluster.Holders(ctx, k)
	if err != nil {
		return false, err
	}
	for i := range others {
		o := &others[i]
		if sameClaim(o, h) || e.same(o) || !o.DeletionTimestamp.IsZero() || !Older(o, h) || !conflictsWithAny(k, o) {
			continue
		}
		ok, err := e.validAlone(ctx, o)
		if err != nil {
			return false, err
		}
		if ok {
			return false, nil
		}
	}
	return true, nil
}

// validAlone runs claimChain on another claim, once per evaluation.
func (e *evaluation) validAlone(ctx context.Context, c *v1alpha1.DNSRecordClaim) (bool, error) {
	key := types.NamespacedName{Namespace: c.Namespace, Name: c.Name}
	if ok, seen := e.valid[key]; seen {
		return ok, nil
	}
	scope, err := e.Cluster.Scope(ctx, c.Spec.ScopeName)
	if err != nil {
		return false, err
	}
	lbls, found, err := e.Cluster.NamespaceLabels(ctx, c.Namespace)
	if err != nil {
		return false, err
	}
	ok := false
	if found {
		// Cluster is for the other scopes' templates: claimChain looks up
		// no conflicts.
		sub := newEvaluation(Input{Claim: c, Scope: scope, NamespaceLabels: lbls, Policies: e.Policies, Cluster: e.Cluster})
		if e.scopes == nil {
			e.scopes = new([]v1alpha1.DNSScope)
		}
		sub.scopes = e.scopes
		_, _, failed, err := claimChain.run(ctx, sub)
		if err != nil {
			return false, err
		}
		ok = !failed
	}
	if e.valid == nil {
		e.valid = map[types.NamespacedName]bool{}
	}
	e.valid[key] = ok
	return ok, nil
}

// same reports whether c is the claim judged (its earlier version in a cache).
func (e *evaluation) same(c *v1alpha1.DNSRecordClaim) bool { return sameClaim(c, e.Claim) }

func sameClaim(a, b *v1alpha1.DNSRecordClaim) bool {
	return a.Namespace == b.Namespace && a.Name == b.Name
}

func conflictsWithAny(k grant.Key, c *v1alpha1.DNSRecordClaim) bool {
	for _, ck := range Keys(c) {
		if grant.Conflicts(k, ck) {
			return true
		}
	}
	return false
}
