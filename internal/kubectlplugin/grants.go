package kubectlplugin

import (
	"context"
	"fmt"
	"strings"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/grant"
	"github.com/scopedns/scopedns/internal/policy"
)

// Grants is what each scope that selects a namespace lets it claim.
type Grants struct {
	Namespace string       `json:"namespace"`
	Scopes    []ScopeGrant `json:"scopes"`
}

// ScopeGrant is one scope's grant, its rules expanded for the namespace.
type ScopeGrant struct {
	Scope string `json:"scope"`
	// Credentials are the kinds of credential the scope hands the
	// namespace (credentialKinds' names), front doors included.
	Credentials []string    `json:"credentials"`
	Rules       []RuleGrant `json:"rules,omitempty"`
	// Error is set when the scope is invalid and grants nothing.
	Error string `json:"error,omitempty"`
}

// RuleGrant is one rule of a zone.
type RuleGrant struct {
	Zone   string   `json:"zone"`
	Rule   string   `json:"rule"`
	Names  []string `json:"names"`
	Types  []string `json:"types"`
	MaxTTL int32    `json:"maxTTL,omitempty"`
}

// GrantsOf lists the grants of every scope that selects the namespace.
func GrantsOf(ctx context.Context, c *Cluster, namespace string) (Grants, error) {
	g := Grants{Namespace: namespace}
	labels, err := c.readNamespace(ctx, namespace)
	if err != nil {
		return g, err
	}
	scopes, err := c.listScopes(ctx)
	if err != nil {
		return g, err
	}
	for i := range scopes {
		if ok, err := policy.Selects(&scopes[i], labels); err == nil && ok {
			g.Scopes = append(g.Scopes, scopeGrant(&scopes[i], namespace))
		}
	}
	return g, nil
}

func scopeGrant(s *v1alpha1.DNSScope, namespace string) ScopeGrant {
	sg := ScopeGrant{Scope: s.Name, Credentials: enabledKinds(&s.Spec.Credentials)}
	compiled, err := grant.Compile(policy.FromScope(s))
	if err != nil {
		sg.Error = err.Error()
		return sg
	}
	for _, r := range compiled.Expand(namespace) {
		sg.Rules = append(sg.Rules, RuleGrant{Zone: r.Zone, Rule: fmt.Sprintf("rules[%d]", r.Index), Names: r.Names, Types: r.Types, MaxTTL: r.MaxTTL})
	}
	return sg
}

func (g Grants) table() table {
	t := table{
		header: []string{"SCOPE", "ZONE", "RULE", "NAMES", "TYPES", "MAXTTL", "CREDENTIALS"},
		empty:  fmt.Sprintf("No DNSScope selects namespace %s: it may claim no names.", g.Namespace),
	}
	for _, s := range g.Scopes {
		creds := strings.Join(s.Credentials, ",")
		if s.Error != "" {
			t.rows = append(t.rows, []string{s.Scope, "", "", "invalid scope, grants nothing: " + s.Error, "", "", creds})
			continue
		}
		for _, r := range s.Rules {
			ttl := ""
			if r.MaxTTL != 0 {
				ttl = fmt.Sprint(r.MaxTTL)
			}
			t.rows = append(t.rows, []string{s.Scope, r.Zone, r.Rule, strings.Join(r.Names, ","), strings.Join(r.Types, ","), ttl, creds})
		}
	}
	return t
}
