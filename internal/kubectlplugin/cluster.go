package kubectlplugin

import (
	"context"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/grant"
	"github.com/scopedns/scopedns/internal/policy"
)

// Cluster is the verdict's policy.Cluster on the API server, read once
// per command: the plugin has no cache with the manager's indexes, so the
// claims are listed once and Holders returns all of them; the verdict
// judges each with grant.Conflicts, as it does the indexed few.
type Cluster struct {
	r client.Reader
	// namespace is listed instead of the whole cluster when listing every
	// namespace's claims is forbidden (a tenant's role).
	namespace string

	listed     bool
	claims     []v1alpha1.DNSRecordClaim
	partial    bool // only namespace's claims could be listed
	scopes     map[string]*v1alpha1.DNSScope
	allScopes  []v1alpha1.DNSScope // every scope, once listed
	namespaces map[string]nsLabels
}

type nsLabels struct {
	labels map[string]string
	found  bool
}

var _ policy.Cluster = (*Cluster)(nil)

// NewCluster reads through r; namespace is the one the command is about.
func NewCluster(r client.Reader, namespace string) *Cluster {
	return &Cluster{r: r, namespace: namespace, scopes: map[string]*v1alpha1.DNSScope{}, namespaces: map[string]nsLabels{}}
}

// Claims lists the claims once: every namespace's, or only the plugin's
// namespace's when the user may not list the others (partial).
func (c *Cluster) Claims(ctx context.Context) ([]v1alpha1.DNSRecordClaim, error) {
	if c.listed {
		return c.claims, nil
	}
	var list v1alpha1.DNSRecordClaimList
	err := c.r.List(ctx, &list)
	if apierrors.IsForbidden(err) && c.namespace != "" {
		c.partial = true
		err = c.r.List(ctx, &list, client.InNamespace(c.namespace))
	}
	if err != nil {
		return nil, fmt.Errorf("listing DNSRecordClaims: %w", err)
	}
	sort.Slice(list.Items, func(i, j int) bool {
		a, b := &list.Items[i], &list.Items[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	c.listed, c.claims = true, list.Items
	return c.claims, nil
}

// Holders returns every claim listed; the verdict keeps those whose keys
// conflict with k.
func (c *Cluster) Holders(ctx context.Context, _ grant.Key) ([]v1alpha1.DNSRecordClaim, error) {
	return c.Claims(ctx)
}

// Scope reads a scope once; nil when it does not exist.
func (c *Cluster) Scope(ctx context.Context, name string) (*v1alpha1.DNSScope, error) {
	if s, ok := c.scopes[name]; ok {
		return s, nil
	}
	s, err := policy.Indexed{Reader: c.r}.Scope(ctx, name)
	if err != nil {
		return nil, err
	}
	c.scopes[name] = s
	return s, nil
}

// NamespaceLabels reads a namespace's labels once.
func (c *Cluster) NamespaceLabels(ctx context.Context, name string) (map[string]string, bool, error) {
	if l, ok := c.namespaces[name]; ok {
		return l.labels, l.found, nil
	}
	l, found, err := policy.Indexed{Reader: c.r}.NamespaceLabels(ctx, name)
	if err != nil {
		return nil, false, err
	}
	c.namespaces[name] = nsLabels{labels: l, found: found}
	return l, found, nil
}

// Scopes lists every scope, for the verdict (a name another scope's
// templates give to another namespace is refused).
func (c *Cluster) Scopes(ctx context.Context) ([]v1alpha1.DNSScope, error) {
	if c.allScopes == nil {
		all, err := c.listScopes(ctx)
		if err != nil {
			return nil, err
		}
		c.allScopes = all
	}
	return c.allScopes, nil
}

// listScopes returns every scope, sorted by name, and remembers them.
func (c *Cluster) listScopes(ctx context.Context) ([]v1alpha1.DNSScope, error) {
	var list v1alpha1.DNSScopeList
	if err := c.r.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("listing DNSScopes: %w", err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	for i := range list.Items {
		c.scopes[list.Items[i].Name] = &list.Items[i]
	}
	return list.Items, nil
}

// readNamespace returns the labels of the namespace asked about; it must exist.
func (c *Cluster) readNamespace(ctx context.Context, name string) (map[string]string, error) {
	l, found, err := c.NamespaceLabels(ctx, name)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("namespace %q does not exist", name)
	}
	return l, nil
}
