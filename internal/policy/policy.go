// Package policy is the one verdict on "may this namespace hold these
// records" (Decide): scope, namespace selector, grant, the rules inside one
// claim and the conflicts with other claims in, a decision per claim and per
// record out. The admission webhook, the claim controller and the gateway
// keys all call it, so a claim that slips past a disabled webhook is refused
// by the controller with the same words, and no decision reads a claim's
// status.
package policy

import (
	"fmt"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/grant"
)

// FromScope converts a scope's zones to the grant engine's policy.
func FromScope(scope *v1alpha1.DNSScope) grant.Policy {
	var p grant.Policy
	for _, z := range scope.Spec.Zones {
		gz := grant.Zone{Name: z.Name}
		for _, r := range z.Rules {
			gr := grant.Rule{Names: append([]string(nil), r.Names...)}
			for _, t := range r.Types {
				gr.Types = append(gr.Types, string(t))
			}
			if r.MaxTTL != nil {
				gr.MaxTTL = *r.MaxTTL
			}
			gz.Rules = append(gz.Rules, gr)
		}
		p.Zones = append(p.Zones, gz)
	}
	return p
}

// Cache keeps one compiled policy per scope generation. Compiling is cheap
// but not free, and admission runs it on every claim write, so a busy
// cluster compiles each scope once per change rather than once per request.
type Cache struct {
	mu      sync.Mutex
	entries map[types.UID]cacheEntry
}

type cacheEntry struct {
	generation int64
	compiled   *grant.Compiled
	err        error
}

// Compile returns the compiled policy of a scope, from the cache when the
// scope's generation has not changed.
func (c *Cache) Compile(scope *v1alpha1.DNSScope) (*grant.Compiled, error) {
	if c == nil {
		return grant.Compile(FromScope(scope))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[scope.UID]; ok && e.generation == scope.Generation && scope.UID != "" {
		return e.compiled, e.err
	}
	compiled, err := grant.Compile(FromScope(scope))
	if c.entries == nil {
		c.entries = map[types.UID]cacheEntry{}
	}
	if scope.UID != "" {
		c.entries[scope.UID] = cacheEntry{generation: scope.Generation, compiled: compiled, err: err}
	}
	return compiled, err
}

// Forget drops a deleted scope from the cache.
func (c *Cache) Forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, uid)
}

// Selects reports whether the scope's namespace selector selects a namespace
// with these labels.
func Selects(scope *v1alpha1.DNSScope, nsLabels map[string]string) (bool, error) {
	sel, err := Selector(scope)
	if err != nil {
		return false, err
	}
	return sel.Matches(labels.Set(nsLabels)), nil
}

// Selector is the scope's namespace selector, parsed: for matching many
// namespaces against one scope (parsing validates every key and value with
// regular expressions, which over 10,000 namespaces per pass was most of a
// scope reconcile).
func Selector(scope *v1alpha1.DNSScope) (labels.Selector, error) {
	sel, err := metav1.LabelSelectorAsSelector(&scope.Spec.NamespaceSelector)
	if err != nil {
		return nil, fmt.Errorf("scope %q: spec.namespaceSelector: %w", scope.Name, err)
	}
	return sel, nil
}

// RecordDecision is the grant decision for one record of a claim.
type RecordDecision struct {
	Index int
	Key   grant.Key // normalised name and type
	Match grant.Match
	Err   error // nil when allowed
}

// CheckClaim decides every record of a claim against a compiled scope policy.
// It never stops at the first refusal: a user fixing a claim wants to see every
// record that is wrong at once.
func CheckClaim(compiled *grant.Compiled, namespace string, claim *v1alpha1.DNSRecordClaim) []RecordDecision {
	out := make([]RecordDecision, 0, len(claim.Spec.Records))
	for i, r := range claim.Spec.Records {
		rec := grant.Record{Name: r.Name, Type: string(r.Type), TTL: r.TTL, Values: r.Values}
		m, err := compiled.Check(namespace, rec)
		d := RecordDecision{Index: i, Match: m, Err: err, Key: grant.Key{Name: m.Name, Type: string(r.Type)}}
		if err != nil {
			// Keep a usable key for status even when the name did not normalise.
			if n, nerr := grant.NormalizeName(r.Name); nerr == nil {
				d.Key.Name = n
			} else {
				d.Key.Name = strings.ToLower(r.Name)
			}
		}
		out = append(out, d)
	}
	return out
}

// Keys returns the normalised (name, type) keys a claim asks for, skipping
// names that do not normalise (those are refused elsewhere). The controllers
// and the webhook index claims by these keys to find conflicts.
func Keys(claim *v1alpha1.DNSRecordClaim) []grant.Key {
	keys := make([]grant.Key, 0, len(claim.Spec.Records))
	for _, r := range claim.Spec.Records {
		n, err := grant.NormalizeName(r.Name)
		if err != nil {
			continue
		}
		keys = append(keys, grant.Key{Name: n, Type: string(r.Type)})
	}
	return keys
}
