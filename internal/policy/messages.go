package policy

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/auditsample"
	"github.com/scopedns/scopedns/internal/grant"
)

// The words of every refusal, written once: admission answers with them and
// the claim's status carries them, so a claim refused by the controller
// with the webhook off reads the same as the webhook's answer.

// ScopeNotFoundMessage is the refusal of a claim whose scope does not exist.
func ScopeNotFoundMessage(scope string) string {
	return fmt.Sprintf("DNSScope %q does not exist", scope)
}

// NotSelectedMessage is the refusal of a claim whose namespace the scope
// does not select.
func NotSelectedMessage(scope *v1alpha1.DNSScope, namespace string) string {
	return fmt.Sprintf("DNSScope %q does not grant names to namespace %q: its namespaceSelector %s does not select the namespace",
		scope.Name, namespace, selectorString(scope))
}

func selectorString(scope *v1alpha1.DNSScope) string {
	s := metav1.FormatLabelSelector(&scope.Spec.NamespaceSelector)
	if s == "" || s == "<none>" {
		return "{}"
	}
	return "{" + s + "}"
}

// ConflictMessage says which key of which claim a record conflicts with,
// and the rule. With conceal it says "another namespace" instead of naming
// the holder's namespace and claim: a refusal then tells a tenant that a
// name is taken, not who took it (--conceal-conflict-holders). A holder in
// the claim's own namespace is named either way; the tenant can list it.
func ConflictMessage(c Conflict, conceal bool) string {
	const delegates = "an NS delegates its name and every name below it away"
	holder := fmt.Sprintf("namespace %q (DNSRecordClaim %q)", c.Holder.Namespace, c.Holder.Name)
	if conceal {
		holder = "another namespace"
	}
	switch c.Relation() {
	case BelowDelegation:
		return fmt.Sprintf("%s %s lies below NS %s already claimed by %s; %s",
			c.Key.Name, c.Key.Type, c.HolderKey.Name, holder, delegates)
	case AboveHolder:
		return fmt.Sprintf("%s NS would delegate away %s %s already claimed by %s; %s",
			c.Key.Name, c.HolderKey.Name, c.HolderKey.Type, holder, delegates)
	default:
		return fmt.Sprintf("%s %s conflicts with %s %s already claimed by %s; a name and type belong to one claim, and a CNAME excludes every other type at its name",
			c.Key.Name, c.Key.Type, c.HolderKey.Name, c.HolderKey.Type, holder)
	}
}

// DuplicateMessage refuses a record whose name and type an earlier record
// of the same claim already lists.
func DuplicateMessage(k grant.Key, first int) string {
	return fmt.Sprintf("%s %s is listed twice (first at spec.records[%d]; names are compared after normalisation: lower case, no trailing dot, IDNA A-labels); list a name and type once, with all its values",
		k.Name, k.Type, first)
}

// CNAMEBesideMessage refuses a record at the same name as a record of the
// other kind (a CNAME beside any other type) in the same claim.
func CNAMEBesideMessage(k grant.Key, otherType string, other int) string {
	return fmt.Sprintf("%s %s is at the same name as the %s at spec.records[%d]; a CNAME excludes every other type at its name",
		k.Name, k.Type, otherType, other)
}

// CNAMESelfMessage refuses a CNAME whose value is its own name.
func CNAMESelfMessage(k grant.Key) string {
	return fmt.Sprintf("%s CNAME points at its own name; a CNAME must name another host", k.Name)
}

// HolderLog writes, for the admins, the holders that verdicts decided with
// ConcealHolders left out of the tenants' messages: one line per refused
// record and holder, naming the claim refused and the holder. The log is
// the operator's; tenants do not read it, but they decide how often it is
// written: a claim naming another namespace's name costs a line at every
// admission (dry runs included, as fast as the API server takes them) and
// every reconcile. So the lines are sampled by the refused claim's namespace
// (auditsample: the first 5 of a namespace and 100 in all per minute, the
// first of every namespace even past that, then one summary line of the
// rest): neither one tenant's flood nor many tenants' together fill the log
// or take the other tenants' lines. One HolderLog serves the webhook and
// the controller of a replica; a nil one writes every line. Make one with
// NewHolderLog.
type HolderLog struct {
	sampler *auditsample.Sampler
	log     *slog.Logger // for the summaries, never a request's logger
	now     func() time.Time
}

// NewHolderLog returns a HolderLog whose summaries go to log, on the clock
// now (time.Now if nil).
func NewHolderLog(log logr.Logger, now func() time.Time) *HolderLog {
	if now == nil {
		now = time.Now
	}
	return &HolderLog{sampler: auditsample.New(0, 0, 0).FirstOfEachSource(), log: slog.New(logr.ToSlogHandler(log)), now: now}
}

// msgHolderSummary is the line that stands for the held-back ones.
const msgHolderSummary = "records refused for holders not named to the tenant, not logged"

// Allow says whether a holder line for a claim of namespace may be
// written; the summary of an interval that ended goes out first.
func (h *HolderLog) Allow(namespace string) bool {
	if h == nil {
		return true
	}
	ok, sum := h.sampler.Allow(namespace, h.now())
	auditsample.Log(context.Background(), h.log, msgHolderSummary, sum)
	return ok
}

// Log writes the verdict's concealed holders.
func (h *HolderLog) Log(log logr.Logger, claim *v1alpha1.DNSRecordClaim, v Verdict) {
	for _, rv := range v.Records {
		for _, c := range rv.Conflicts {
			if c.Holder.Namespace == claim.Namespace || !h.Allow(claim.Namespace) {
				continue
			}
			log.Info("record refused: held by a claim of another namespace, not named to the tenant",
				"claim", klog.KObj(claim), "record", rv.Key.Name, "type", rv.Key.Type,
				"holder", klog.KRef(c.Holder.Namespace, c.Holder.Name), "holderRecord", c.HolderKey.Name, "holderType", c.HolderKey.Type)
		}
	}
}

// Start writes the summary of each interval that held lines back, also
// when the flood has stopped (a manager.Runnable, in every replica: each
// serves the webhook).
func (h *HolderLog) Start(ctx context.Context) error {
	t := time.NewTicker(h.sampler.Interval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			auditsample.Log(ctx, h.log, msgHolderSummary, h.sampler.Flush(h.now()))
		}
	}
}

// NeedLeaderElection is false: every replica answers admissions.
func (h *HolderLog) NeedLeaderElection() bool { return false }
