package kubectlplugin

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/policy"
)

// Question is what can-i asks: may Namespace hold Name and Type (with TTL
// and Values, when given), under Scope or under any scope that selects it.
type Question struct {
	Namespace string
	Name      string
	Type      string
	TTL       int32
	Values    []string
	// Scope limits the answer to one scope; empty asks every scope that
	// selects the namespace.
	Scope string
}

// Answer is can-i's result.
type Answer struct {
	Namespace string        `json:"namespace"`
	Name      string        `json:"name"`
	Type      string        `json:"type"`
	Allowed   bool          `json:"allowed"`
	Scopes    []ScopeAnswer `json:"scopes"`
	// Notes say what the answer could not check (other namespaces' claims
	// when listing them is forbidden).
	Notes []string `json:"notes,omitempty"`
}

// ScopeAnswer is the verdict of one scope.
type ScopeAnswer struct {
	Scope   string `json:"scope"`
	Allowed bool   `json:"allowed"`
	// Zone, Rule, Pattern and MaxTTL name what grants the name, when it
	// lies inside the scope's grant.
	Zone    string `json:"zone,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Pattern string `json:"pattern,omitempty"`
	MaxTTL  int32  `json:"maxTTL,omitempty"`
	// Reason and Message are the verdict's, when it refuses.
	Reason    string           `json:"reason,omitempty"`
	Message   string           `json:"message,omitempty"`
	Conflicts []ConflictAnswer `json:"conflicts,omitempty"`
}

// ConflictAnswer is a key another claim holds against the name.
type ConflictAnswer struct {
	Namespace string `json:"namespace"`
	Claim     string `json:"claim"`
	Name      string `json:"name"`
	Type      string `json:"type"`
}

// probeName is the probe claim's name. It cannot be a real claim's (object
// names hold no spaces), so the verdict never takes an existing claim for
// the probe's earlier version.
const probeName = "kubectl scopedns can-i"

// probeCreated makes the probe younger than every claim that exists: the
// question is whether a claim written now would hold the name, and under
// the controllers' rule (policy.OlderWins) every existing claim is older.
var probeCreated = metav1.NewTime(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))

// probe is the claim can-i asks the verdict about.
func probe(q Question, scope string) *v1alpha1.DNSRecordClaim {
	return &v1alpha1.DNSRecordClaim{
		ObjectMeta: metav1.ObjectMeta{Name: probeName, Namespace: q.Namespace, CreationTimestamp: probeCreated},
		Spec: v1alpha1.DNSRecordClaimSpec{ScopeName: scope, Records: []v1alpha1.RecordSpec{{
			Name: q.Name, Type: v1alpha1.RecordType(q.Type), TTL: q.TTL, Values: q.Values,
		}}},
	}
}

// CanI answers q with policy.Decide, the webhook's and the controller's
// verdict, once per scope: the scope asked for, or each scope that selects
// the namespace, or, when none does, every scope (each then says it does
// not select it). The probe is judged by the controllers' rule (OlderWins):
// it is younger than every claim, so it meets every claim that admission
// would contest (other namespaces') and also this namespace's own, which
// admission lets through and the controller then refuses as a Conflict.
func CanI(ctx context.Context, c *Cluster, q Question) (Answer, error) {
	a := Answer{Namespace: q.Namespace, Name: q.Name, Type: q.Type}
	labels, found, err := c.NamespaceLabels(ctx, q.Namespace)
	if err != nil {
		return a, err
	}
	scopes, err := c.scopesFor(ctx, q.Scope, labels)
	if err != nil {
		return a, err
	}
	for _, s := range scopes {
		v, err := policy.Decide(ctx, policy.Input{
			Claim: probe(q, s.name), Scope: s.scope, NamespaceLabels: labels,
			Contest: policy.OlderWins, Cluster: c,
		})
		if err != nil {
			return a, err
		}
		sa := scopeAnswer(s.name, v)
		if !found {
			sa.Allowed, sa.Reason, sa.Message = false, "NamespaceNotFound", fmt.Sprintf("namespace %q does not exist", q.Namespace)
		}
		a.Allowed = a.Allowed || sa.Allowed
		a.Scopes = append(a.Scopes, sa)
	}
	if len(a.Scopes) == 0 {
		a.Notes = append(a.Notes, "no DNSScope exists: no namespace may claim names")
	}
	if c.partial {
		a.Notes = append(a.Notes, fmt.Sprintf("only namespace %s's claims were checked for conflicts: listing DNSRecordClaims in all namespaces is forbidden to you (admission checks the others)", q.Namespace))
	}
	return a, nil
}

// scopeRef is a scope asked about: scope is nil when none of that name
// exists, and the verdict refuses it as ScopeNotFound.
type scopeRef struct {
	name  string
	scope *v1alpha1.DNSScope
}

// scopesFor picks the scopes to ask.
func (c *Cluster) scopesFor(ctx context.Context, name string, labels map[string]string) ([]scopeRef, error) {
	if name != "" {
		s, err := c.Scope(ctx, name)
		if err != nil {
			return nil, err
		}
		return []scopeRef{{name: name, scope: s}}, nil
	}
	all, err := c.listScopes(ctx)
	if err != nil {
		return nil, err
	}
	var selecting, every []scopeRef
	for i := range all {
		s := &all[i]
		every = append(every, scopeRef{name: s.Name, scope: s})
		if ok, err := policy.Selects(s, labels); err == nil && ok {
			selecting = append(selecting, scopeRef{name: s.Name, scope: s})
		}
	}
	if len(selecting) > 0 {
		return selecting, nil
	}
	return every, nil
}

func scopeAnswer(scope string, v policy.Verdict) ScopeAnswer {
	sa := ScopeAnswer{Scope: scope, Allowed: v.Accepted}
	if len(v.Records) == 1 {
		rv := v.Records[0]
		if rv.Match.Zone != "" {
			sa.Zone, sa.Rule, sa.Pattern, sa.MaxTTL = rv.Match.Zone, fmt.Sprintf("rules[%d]", rv.Match.RuleIndex), rv.Match.Pattern, rv.Match.MaxTTL
		}
		for _, c := range rv.Conflicts {
			sa.Conflicts = append(sa.Conflicts, ConflictAnswer{Namespace: c.Holder.Namespace, Claim: c.Holder.Name, Name: c.HolderKey.Name, Type: c.HolderKey.Type})
		}
		if !rv.Allowed {
			sa.Reason, sa.Message = rv.Reason, rv.Message
		}
	}
	if !v.Accepted && sa.Reason == "" {
		sa.Reason, sa.Message = v.Reason, v.Message
	}
	return sa
}

func (a Answer) table() table {
	verdict := "denied"
	if a.Allowed {
		verdict = "allowed"
	}
	t := table{
		title:  fmt.Sprintf("%s: %s %s for namespace %s", verdict, a.Name, a.Type, a.Namespace),
		header: []string{"SCOPE", "ANSWER", "ZONE", "RULE", "DETAIL"},
	}
	for _, s := range a.Scopes {
		answer, detail := "denied", s.Reason+": "+s.Message
		if s.Allowed {
			answer, detail = "allowed", "pattern "+s.Pattern
			if s.MaxTTL != 0 {
				detail += fmt.Sprintf(", maxTTL %d", s.MaxTTL)
			}
		}
		t.rows = append(t.rows, []string{s.Scope, answer, s.Zone, s.Rule, detail})
	}
	for _, n := range a.Notes {
		t.rows = append(t.rows, []string{"", "note", "", "", n})
	}
	return t
}
