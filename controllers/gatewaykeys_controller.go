package controllers

import (
	"context"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/acmedns"
	"github.com/scopedns/scopedns/internal/cfapi"
	"github.com/scopedns/scopedns/internal/dyndns"
	"github.com/scopedns/scopedns/internal/frontcreds"
	"github.com/scopedns/scopedns/internal/gateway"
	"github.com/scopedns/scopedns/internal/policy"
)

// GatewayKeysReconciler feeds the RFC 2136 gateway's key store from the
// credentials Secrets and the claims: each namespace's key may write exactly
// the (name, type) pairs it reserved, within the rule's TTL. It only reads
// the cluster, so it runs on every replica (each serves the gateway), not
// just the leader. Requests are keyed by namespace and scope, like the
// credentials controller's.
type GatewayKeysReconciler struct {
	Client client.Client
	// APIReader reads a vault the cache does not hold up to date (vault).
	APIReader client.Reader
	// Keys is the RFC 2136 gateway's store; nil when the gateway is off.
	Keys *gateway.KeyStore
	// Accounts, Users and Tokens are the HTTP front doors' stores
	// (acme-dns, dyndns2, the Cloudflare-compatible API); nil when the front
	// door is off. They get the logins of scopes that enable acmeDNS, dynDNS
	// and cloudflareAPI, over the same reservations as the key.
	Accounts *acmedns.AccountStore
	Users    *dyndns.UserStore
	Tokens   *cfapi.TokenStore
	// ClusterName goes into the owner marker of the front doors' records
	// and into the derived usernames.
	ClusterName string
	Policies    *policy.Cache
	// Namespace is the operator's own namespace, where the vault Secrets
	// with the TSIG secrets live (see tsigSecrets).
	Namespace string
	Now       func() time.Time
}

// keySet is what one namespace holds under one scope.
type keySet struct {
	key      gateway.Key
	accounts []acmedns.Account
	user     *dyndns.User
	token    *cfapi.Token
}

// FrontDoorStores are the HTTP front doors' stores; a nil one is off.
type FrontDoorStores struct {
	Accounts *acmedns.AccountStore
	Users    *dyndns.UserStore
	Tokens   *cfapi.TokenStore
}

// Reconcile puts the namespace's key and logins for the scope into the
// stores, or takes them out.
func (r *GatewayKeysReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns, scopeName := req.Namespace, req.Name
	set, ok, err := r.keys(ctx, ns, scopeName)
	if err != nil {
		return ctrl.Result{}, err
	}
	if r.Keys != nil {
		if ok {
			r.Keys.Put(set.key)
		} else {
			r.Keys.Delete(TSIGKeyName(ns, scopeName))
		}
	}
	// Each store swaps this namespace's logins alone: a reconcile costs
	// what one namespace holds, however many others there are.
	owner := req.String()
	if r.Accounts != nil {
		r.Accounts.Set(owner, set.accounts)
	}
	if r.Users != nil {
		r.Users.Set(owner, optional(set.user))
	}
	if r.Tokens != nil {
		r.Tokens.Set(owner, optional(set.token))
	}
	// The gateway stops accepting the previous secret at its expiry by
	// itself; coming back then takes it out of memory and out of the
	// front doors' logins derived from it.
	if u := set.key.PreviousValidUntil; ok && len(set.key.Secrets) > 1 {
		return ctrl.Result{RequeueAfter: max(u.Sub(r.now()), time.Second)}, nil
	}
	return ctrl.Result{}, nil
}

func (r *GatewayKeysReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// keys are the namespace's TSIG key and the front-door logins derived from
// it, all over the same reservations; ok is false when the namespace holds
// none (no scope, rfc2136 off, no TSIG secret yet).
func (r *GatewayKeysReconciler) keys(ctx context.Context, ns, scopeName string) (keySet, bool, error) {
	var scope v1alpha1.DNSScope
	if err := r.Client.Get(ctx, client.ObjectKey{Name: scopeName}, &scope); err != nil {
		return keySet{}, false, client.IgnoreNotFound(err)
	}
	creds := &scope.Spec.Credentials
	if !creds.RFC2136Enabled() {
		return keySet{}, false, nil
	}
	secrets, previousUntil, err := r.tsigSecrets(ctx, ns, scopeName)
	if err != nil || len(secrets) == 0 {
		return keySet{}, false, err
	}
	reserved, err := namespaceReservations(ctx, r.Client, r.Policies, &scope, ns)
	if err != nil {
		return keySet{}, false, err
	}
	key := gateway.Key{
		Name:      TSIGKeyName(ns, scopeName),
		Algorithm: TSIGAlgorithm,
		Secrets:   secrets,
		Namespace: ns,
		Scope:     scopeName,
		// The gateway checks this itself at each request.
		PreviousValidUntil: previousUntil,
	}
	key.Grants, key.Zones = grants(reserved)
	set := keySet{key: key}
	id := frontcreds.Identity{Cluster: r.ClusterName, Scope: scopeName, Namespace: ns}
	if creds.ACMEDNSEnabled() {
		set.accounts = frontcreds.ACMEDNSAccounts(id, secrets, reserved)
	}
	if creds.DynDNSEnabled() {
		if u, ok := frontcreds.DynDNSUser(id, secrets, reserved); ok {
			set.user = &u
		}
	}
	if creds.CloudflareAPIEnabled() {
		if t, ok := frontcreds.CloudflareAPIToken(id, secrets, reserved); ok {
			set.token = &t
		}
	}
	return set, true, nil
}

// grants are what the namespace's key may write: its reservations, each
// with the rule's TTL.
func grants(reserved []frontcreds.Reservation) (map[gateway.Grant]int32, map[string]string) {
	grants, zones := map[gateway.Grant]int32{}, map[string]string{}
	for _, rv := range reserved {
		zones[rv.Zone] = rv.ZoneID
		grants[gateway.Grant{Name: rv.Name, Type: rv.Type}] = rv.MaxTTL
	}
	return grants, zones
}

// namespaceReservations are the records a namespace's keys (the TSIG key and
// the front-door logins derived from it) may write under a scope: the
// records without values (reserved for the key) that the one verdict
// allows, over the claims' specs, in a zone the scope resolved. Claim status
// is never read: a tenant with status rights could write Reserved into it,
// and it lags a narrowed scope. The gateway keys, the front-door stores and
// the credentials Secret all ask this, so they never disagree.
func namespaceReservations(ctx context.Context, c client.Client, policies *policy.Cache, scope *v1alpha1.DNSScope, ns string) ([]frontcreds.Reservation, error) {
	var namespace corev1.Namespace
	if err := c.Get(ctx, client.ObjectKey{Name: ns}, &namespace); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	var claims v1alpha1.DNSRecordClaimList
	if err := c.List(ctx, &claims, client.InNamespace(ns), client.MatchingFields{policy.ScopeIndex: scope.Name}); err != nil {
		return nil, err
	}
	var out []frontcreds.Reservation
	for i := range claims.Items {
		cl := &claims.Items[i]
		if !cl.DeletionTimestamp.IsZero() {
			continue
		}
		reserved, err := keyReservations(ctx, policy.Indexed{Reader: c}, policies, scope, namespace.Labels, cl)
		if err != nil {
			return nil, err
		}
		for _, rv := range reserved {
			id := zoneIDOf(scope, rv.Match.Zone)
			if id == "" {
				continue
			}
			out = append(out, frontcreds.Reservation{
				Name: rv.Key.Name, Type: strings.ToUpper(rv.Key.Type),
				Zone: rv.Match.Zone, ZoneID: id, MaxTTL: rv.Match.MaxTTL,
			})
		}
	}
	return out, nil
}

// keyReservations are the records of a claim that its namespace's gateway
// key may write: those the one verdict allows that have no values (records
// with values are the operator's to write). The gateway keys and the record
// GC both ask this, so a record the GC keeps is exactly one a key may write.
func keyReservations(ctx context.Context, cluster policy.Cluster, policies *policy.Cache, scope *v1alpha1.DNSScope, nsLabels map[string]string, c *v1alpha1.DNSRecordClaim) ([]policy.RecordVerdict, error) {
	verdict, err := policy.Decide(ctx, policy.Input{
		Claim: c, Scope: scope, NamespaceLabels: nsLabels,
		Contest: policy.OlderWins, Cluster: cluster, Policies: policies,
	})
	if err != nil {
		return nil, err
	}
	var out []policy.RecordVerdict
	for j, rv := range verdict.Records {
		if rv.Allowed && len(c.Spec.Records[j].Values) == 0 {
			out = append(out, rv)
		}
	}
	return out, nil
}

// tsigSecrets are the key's secrets: from the vault in the operator's
// namespace, never from the tenant's Secret (tenants write Secrets), and the
// previous one only while the DNSCredential's status says it is valid. The
// status's PreviousValidUntil (which tenants cannot write) comes back with
// them: it alone says when the previous secret ends, however long the vault
// keeps it.
func (r *GatewayKeysReconciler) tsigSecrets(ctx context.Context, ns, scopeName string) ([]string, time.Time, error) {
	var cred v1alpha1.DNSCredential
	if err := r.Client.Get(ctx, client.ObjectKey{Name: v1alpha1.DNSCredentialName(scopeName, ns)}, &cred); err != nil {
		return nil, time.Time{}, client.IgnoreNotFound(err)
	}
	ts := cred.Status.TSIG
	if ts == nil || !cred.DeletionTimestamp.IsZero() {
		return nil, time.Time{}, nil
	}
	v, err := r.vault(ctx, &cred)
	if err != nil || v == nil || len(v.Data[KeyTSIGSecret]) == 0 {
		return nil, time.Time{}, err
	}
	out := []string{string(v.Data[KeyTSIGSecret])}
	if vaultTSIGGeneration(v) < ts.Generation {
		// A rotation is on record and the vault has not drawn its secret
		// yet (tsig.go writes the status first): the vault's current secret
		// is the one the tenant holds, and the vault's previous one is a
		// generation older than the overlap the status speaks of.
		return out, time.Time{}, nil
	}
	if prev := v.Data[KeyTSIGPrevious]; len(prev) > 0 && ts.PreviousValidUntil != nil && ts.PreviousValidUntil.After(r.now()) {
		return append(out, string(prev)), ts.PreviousValidUntil.Time, nil
	}
	return out, time.Time{}, nil
}

// vault is the DNSCredential's vault Secret, or nil. The cache is read
// first; when it does not hold the generation the status names (or no
// vault), the API server is asked. The vault's events come through a
// metadata-only watch, a stream apart from the cache read here, so an event
// can arrive before the object it announces, and keys read from the cache
// then would be the previous generation's, or none, with no later event to
// mend them. Only then is the read uncached.
func (r *GatewayKeysReconciler) vault(ctx context.Context, cred *v1alpha1.DNSCredential) (*corev1.Secret, error) {
	key := client.ObjectKey{Namespace: r.Namespace, Name: vaultName(cred)}
	var v corev1.Secret
	err := r.Client.Get(ctx, key, &v)
	if err == nil && vaultHoldsTSIG(&v, cred.Status.TSIG.Generation) {
		return &v, nil
	}
	if client.IgnoreNotFound(err) != nil {
		return nil, err
	}
	vaultCacheBehind.Inc()
	v = corev1.Secret{}
	if err := r.APIReader.Get(ctx, key, &v); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return &v, nil
}

func optional[T any](v *T) []T {
	if v == nil {
		return nil
	}
	return []T{*v}
}

// SetupWithManager watches what a key depends on; it needs no leader.
func (r *GatewayKeysReconciler) SetupWithManager(mgr ctrl.Manager) error {
	byClaim := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		c := o.(*v1alpha1.DNSRecordClaim)
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: c.Namespace, Name: c.Spec.ScopeName}}}
	})
	byVault := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		l := o.GetLabels()
		if o.GetNamespace() != r.Namespace || l[LabelVault] == "" || l[LabelScope] == "" {
			return nil
		}
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: l[LabelNamespace], Name: l[LabelScope]}}}
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("gatewaykeys").
		Watches(&v1alpha1.DNSRecordClaim{}, byClaim, builder.WithPredicates(claimZoneUpdates)).
		Watches(&corev1.Secret{}, byVault, builder.OnlyMetadata). // labels route it; see the credentials controller
		Watches(&v1alpha1.DNSCredential{}, handler.EnqueueRequestsFromMapFunc(credentialRequest)).
		Watches(&v1alpha1.DNSScope{}, handler.EnqueueRequestsFromMapFunc(namespacesOfScope(r.Client)), builder.WithPredicates(scopeUpdates)).
		WithOptions(controller.Options{NeedLeaderElection: ptr.To(false), RateLimiter: rateLimiter(0)}).
		Complete(r)
}
