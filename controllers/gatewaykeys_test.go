package controllers

import (
	"bytes"
	"context"
	"encoding/base64"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/acmedns"
	"github.com/scopedns/scopedns/internal/dyndns"
	"github.com/scopedns/scopedns/internal/frontcreds"
	"github.com/scopedns/scopedns/internal/gateway"
	"github.com/scopedns/scopedns/internal/policy"
	"github.com/scopedns/scopedns/internal/provider/memory"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

const frontCluster = "c1"

// frontDoorScope grants team namespaces _acme-challenge TXT and home A/AAAA
// names under {namespace}.apps.example.com, with rfc2136 on and the two
// front-door toggles as given.
func frontDoorScope(acmeDNS, dynDNS bool) *v1alpha1.DNSScope {
	s := readyScope("prod", v1alpha1.ZoneStatus{Name: "example.com", ID: "z1"})
	s.Spec.NamespaceSelector = metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "true"}}
	s.Spec.Zones = []v1alpha1.ZoneGrant{{Name: "example.com", Rules: []v1alpha1.GrantRule{{
		Names: []string{"_acme-challenge.{namespace}.apps.example.com", "_acme-challenge.*.{namespace}.apps.example.com",
			"home.{namespace}.apps.example.com", "web.{namespace}.apps.example.com"},
		Types:  []v1alpha1.RecordType{v1alpha1.RecordTypeTXT, v1alpha1.RecordTypeA, v1alpha1.RecordTypeAAAA},
		MaxTTL: ptr.To[int32](600),
	}}}}
	s.Spec.Credentials.RFC2136 = &v1alpha1.CredentialToggle{Enabled: true}
	s.Spec.Credentials.ACMEDNS = &v1alpha1.CredentialToggle{Enabled: acmeDNS}
	s.Spec.Credentials.DynDNS = &v1alpha1.CredentialToggle{Enabled: dynDNS}
	return s
}

// frontDoorObjects are team-a's namespace, claims, DNSCredential and vault:
// reservations of an _acme-challenge TXT name, of home A and AAAA, a record
// with values (the operator's, not the key's), and an _acme-challenge name of
// team-b's that the verdict refuses team-a.
func frontDoorObjects(scope *v1alpha1.DNSScope) []client.Object {
	cred := &v1alpha1.DNSCredential{
		ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DNSCredentialName("prod", "team-a")},
		Spec:       v1alpha1.DNSCredentialSpec{ScopeName: "prod", Namespace: "team-a"},
		Status:     v1alpha1.DNSCredentialStatus{TSIG: &v1alpha1.TSIGKeyStatus{KeyName: TSIGKeyName("team-a", "prod"), Generation: 1}},
	}
	vault := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "scopedns-system", Name: vaultName(cred),
		Annotations: map[string]string{AnnTSIGGeneration: "1"}},
		Data: map[string][]byte{KeyTSIGSecret: []byte("current")}}
	rec := func(name string, typ v1alpha1.RecordType, values ...string) v1alpha1.RecordSpec {
		return v1alpha1.RecordSpec{Name: name, Type: typ, Values: values}
	}
	claim := func(name string, records ...v1alpha1.RecordSpec) client.Object {
		return &v1alpha1.DNSRecordClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: name, CreationTimestamp: metav1.Now()},
			Spec: v1alpha1.DNSRecordClaimSpec{ScopeName: "prod", Records: records}}
	}
	return []client.Object{scope, cred, vault,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"tenant": "true"}}},
		claim("acme", rec("_acme-challenge.web.team-a.apps.example.com", v1alpha1.RecordTypeTXT)),
		claim("home", rec("home.team-a.apps.example.com", v1alpha1.RecordTypeA), rec("home.team-a.apps.example.com", v1alpha1.RecordTypeAAAA),
			rec("web.team-a.apps.example.com", v1alpha1.RecordTypeA, "192.0.2.1")),
		claim("stolen", rec("_acme-challenge.web.team-b.apps.example.com", v1alpha1.RecordTypeTXT)),
	}
}

// editFrontDoor changes the DNSCredential and the vault among
// frontDoorObjects' objects, and returns them.
func editFrontDoor(objs []client.Object, cred func(*v1alpha1.DNSCredential), vault func(*corev1.Secret)) []client.Object {
	for _, o := range objs {
		switch o := o.(type) {
		case *v1alpha1.DNSCredential:
			cred(o)
		case *corev1.Secret:
			vault(o)
		}
	}
	return objs
}

func newFrontDoorReconciler(t *testing.T, objs ...client.Object) *GatewayKeysReconciler {
	cl := fake.NewClientBuilder().WithScheme(testScheme(t)).
		WithIndex(&v1alpha1.DNSRecordClaim{}, policy.NameIndex, policy.IndexRecordNames).
		WithIndex(&v1alpha1.DNSRecordClaim{}, policy.AncestorIndex, policy.IndexRecordAncestors).
		WithIndex(&v1alpha1.DNSRecordClaim{}, policy.ScopeIndex, policy.IndexScopeName).
		WithIndex(&v1alpha1.DNSCredential{}, CredentialNamespaceIndex, IndexCredentialNamespace).
		WithStatusSubresource(&v1alpha1.DNSCredential{}).
		// The API server gives every object a UID; the fake client does not,
		// and the credentials controller knows its Secret by it.
		WithInterceptorFuncs(interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if obj.GetUID() == "" {
				obj.SetUID(types.UID("uid-" + obj.GetNamespace() + "-" + obj.GetName()))
			}
			return c.Create(ctx, obj, opts...)
		}}).
		WithObjects(objs...).Build()
	return &GatewayKeysReconciler{
		Client: cl, APIReader: cl, Keys: gateway.NewKeyStore(), Accounts: acmedns.NewAccountStore(), Users: dyndns.NewUserStore(),
		ClusterName: frontCluster, Policies: &policy.Cache{}, Namespace: "scopedns-system",
		Now: func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
}

var teamAProd = ctrl.Request{NamespacedName: client.ObjectKey{Namespace: "team-a", Name: "prod"}}

func acmeUsername(name string) string {
	return frontcreds.ACMEDNSAccounts(frontcreds.Identity{Cluster: frontCluster, Scope: "prod", Namespace: "team-a"}, []string{"x"},
		[]frontcreds.Reservation{{Name: name, Type: "TXT"}})[0].Username
}

func TestGatewayKeysFillTheFrontDoorStores(t *testing.T) {
	webChallenge := "_acme-challenge.web.team-a.apps.example.com"
	for name, tc := range map[string]struct {
		acmeDNS, dynDNS bool
		check           func(t *testing.T, r *GatewayKeysReconciler)
	}{
		"should give a reserved _acme-challenge TXT name an account that may write only that name": {true, false, func(t *testing.T, r *GatewayKeysReconciler) {
			a, ok := r.Accounts.Account(acmeUsername(webChallenge))
			if !ok || r.Accounts.Len() != 1 {
				t.Fatalf("account found = %v, %d accounts, want the one of %s", ok, r.Accounts.Len(), webChallenge)
			}
			if len(a.Tenant.Grants) != 1 || a.Tenant.Grants[zonewriter.Grant{Name: webChallenge, Type: "TXT"}] != 600 {
				t.Fatalf("grants = %v, want only (%s, TXT) at the rule's TTL", a.Tenant.Grants, webChallenge)
			}
			if a.Zone != "example.com" || a.ZoneID != "z1" || a.Tenant.Owner != zonewriter.OwnerComment(frontCluster, "team-a") ||
				a.Tenant.Namespace != "team-a" || a.Tenant.Scope != "prod" || len(a.Passwords) != 1 {
				t.Fatalf("account zone %q/%q, tenant %s/%s owner %q, %d passwords", a.Zone, a.ZoneID, a.Tenant.Namespace, a.Tenant.Scope, a.Tenant.Owner, len(a.Passwords))
			}
		}},
		"should give a name the verdict refuses no account": {true, false, func(t *testing.T, r *GatewayKeysReconciler) {
			if _, ok := r.Accounts.Account(acmeUsername("_acme-challenge.web.team-b.apps.example.com")); ok {
				t.Fatal("team-a got an account for team-b's _acme-challenge name")
			}
		}},
		"should give a scope with acmeDNS off no account": {false, true, func(t *testing.T, r *GatewayKeysReconciler) {
			if r.Accounts.Len() != 0 {
				t.Fatalf("%d accounts with acmeDNS off", r.Accounts.Len())
			}
		}},
		"should give the namespace a dyndns2 user for its reserved A and AAAA names only": {false, true, func(t *testing.T, r *GatewayKeysReconciler) {
			u, ok := r.Users.User("team-a.prod")
			if !ok || r.Users.Len() != 1 {
				t.Fatalf("user found = %v, %d users", ok, r.Users.Len())
			}
			home := "home.team-a.apps.example.com"
			if len(u.Hosts) != 1 || u.Hosts[home].ZoneID != "z1" {
				t.Fatalf("hosts = %v, want only %s (web has values: the operator's, not the user's)", u.Hosts, home)
			}
			want := map[zonewriter.Grant]int32{{Name: home, Type: "A"}: 600, {Name: home, Type: "AAAA"}: 600}
			if len(u.Tenant.Grants) != 2 || u.Tenant.Grants[zonewriter.Grant{Name: home, Type: "A"}] != 600 || u.Tenant.Grants[zonewriter.Grant{Name: home, Type: "AAAA"}] != 600 {
				t.Fatalf("grants = %v, want %v", u.Tenant.Grants, want)
			}
			if u.Tenant.Owner != zonewriter.OwnerComment(frontCluster, "team-a") {
				t.Fatalf("owner = %q", u.Tenant.Owner)
			}
		}},
		"should give a scope with dynDNS off no user": {true, false, func(t *testing.T, r *GatewayKeysReconciler) {
			if r.Users.Len() != 0 {
				t.Fatalf("%d users with dynDNS off", r.Users.Len())
			}
		}},
		"should keep the RFC 2136 key granted exactly as before": {true, true, func(t *testing.T, r *GatewayKeysReconciler) {
			k, ok := r.Keys.Key(TSIGKeyName("team-a", "prod"))
			if !ok || len(k.Grants) != 3 || k.Zones["example.com"] != "z1" {
				t.Fatalf("key found = %v, grants %v", ok, k.Grants)
			}
		}},
	} {
		t.Run(name, func(t *testing.T) {
			r := newFrontDoorReconciler(t, frontDoorObjects(frontDoorScope(tc.acmeDNS, tc.dynDNS))...)
			if _, err := r.Reconcile(context.Background(), teamAProd); err != nil {
				t.Fatal(err)
			}
			tc.check(t, r)
		})
	}
}

func TestGatewayKeysTakeLoginsBack(t *testing.T) {
	for name, edit := range map[string]func(ctx context.Context, c client.Client) error{
		"should take the logins back when the scope turns the front doors off": func(ctx context.Context, c client.Client) error {
			var s v1alpha1.DNSScope
			if err := c.Get(ctx, client.ObjectKey{Name: "prod"}, &s); err != nil {
				return err
			}
			s.Spec.Credentials.ACMEDNS.Enabled, s.Spec.Credentials.DynDNS.Enabled = false, false
			return c.Update(ctx, &s)
		},
		"should take the logins back when the TSIG key goes": func(ctx context.Context, c client.Client) error {
			return c.Delete(ctx, &v1alpha1.DNSCredential{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DNSCredentialName("prod", "team-a")}})
		},
		"should take the logins back when the scope goes": func(ctx context.Context, c client.Client) error {
			return c.Delete(ctx, &v1alpha1.DNSScope{ObjectMeta: metav1.ObjectMeta{Name: "prod"}})
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			r := newFrontDoorReconciler(t, frontDoorObjects(frontDoorScope(true, true))...)
			if _, err := r.Reconcile(ctx, teamAProd); err != nil {
				t.Fatal(err)
			}
			if r.Accounts.Len() != 1 || r.Users.Len() != 1 {
				t.Fatalf("before: %d accounts, %d users", r.Accounts.Len(), r.Users.Len())
			}
			if err := edit(ctx, r.Client); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Reconcile(ctx, teamAProd); err != nil {
				t.Fatal(err)
			}
			if r.Accounts.Len() != 0 || r.Users.Len() != 0 {
				t.Fatalf("after: %d accounts, %d users left", r.Accounts.Len(), r.Users.Len())
			}
		})
	}
}

func TestGatewayKeysRunWithoutTheRFC2136Gateway(t *testing.T) {
	r := newFrontDoorReconciler(t, frontDoorObjects(frontDoorScope(true, true))...)
	r.Keys = nil // --gateway-address=0 with the HTTP front door on
	if _, err := r.Reconcile(context.Background(), teamAProd); err != nil {
		t.Fatal(err)
	}
	if r.Accounts.Len() != 1 || r.Users.Len() != 1 {
		t.Fatalf("%d accounts, %d users without the RFC 2136 gateway", r.Accounts.Len(), r.Users.Len())
	}
}

// TestGatewayStopsThePreviousSecretAtTheStatusTime: the vault still holds
// the rotated-out secret (the credentials controller has not dropped it),
// and the key was last reconciled inside the overlap; the gateway itself
// refuses that secret once its clock passes the DNSCredential status's
// PreviousValidUntil, with no reconcile in between.
func TestGatewayStopsThePreviousSecretAtTheStatusTime(t *testing.T) {
	// Near the wall clock: miekg/dns checks the signing time against it
	// too, whatever the gateway's clock says.
	reconciledAt := time.Now().Truncate(time.Second)
	validUntil := reconciledAt.Add(time.Minute)
	current := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("c"), 32))
	previous := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("p"), 32))
	for name, tc := range map[string]struct {
		secret  string
		at      time.Time // the gateway's clock
		refused bool
	}{
		"should accept the previous secret before the status's end of the overlap":   {previous, validUntil.Add(-time.Second), false},
		"should refuse the previous secret after it though the vault still holds it": {previous, validUntil.Add(time.Minute), true},
		"should refuse the previous secret at that very time":                        {previous, validUntil, true},
		"should accept the current secret after it":                                  {current, validUntil.Add(time.Minute), false},
	} {
		t.Run(name, func(t *testing.T) {
			objs := editFrontDoor(frontDoorObjects(frontDoorScope(false, false)), func(c *v1alpha1.DNSCredential) {
				c.Status.TSIG.Generation = 2
				c.Status.TSIG.PreviousValidUntil = &metav1.Time{Time: validUntil}
			}, func(v *corev1.Secret) {
				v.Data = map[string][]byte{KeyTSIGSecret: []byte(current), KeyTSIGPrevious: []byte(previous)}
				v.Annotations[AnnTSIGGeneration] = "2"
			})
			r := newFrontDoorReconciler(t, objs...)
			r.Now = func() time.Time { return reconciledAt }
			res, err := r.Reconcile(context.Background(), teamAProd)
			if err != nil {
				t.Fatal(err)
			}
			if res.RequeueAfter != time.Minute {
				t.Errorf("requeue after %v, want the minute left of the overlap", res.RequeueAfter)
			}
			addr := serveGateway(t, r.Keys, tc.at)
			rcode, tsigErr := signedSOAQuery(t, addr, TSIGKeyName("team-a", "prod"), tc.secret, tc.at)
			switch {
			case tc.refused && (rcode != dns.RcodeNotAuth || tsigErr != dns.RcodeBadSig):
				t.Fatalf("answered %s (TSIG %s), want NOTAUTH (BADSIG)", dns.RcodeToString[rcode], dns.RcodeToString[int(tsigErr)])
			case !tc.refused && rcode != dns.RcodeSuccess:
				t.Fatalf("answered %s (TSIG %s), want NOERROR", dns.RcodeToString[rcode], dns.RcodeToString[int(tsigErr)])
			}
		})
	}
}

// serveGateway runs the RFC 2136 gateway on loopback over keys, with its
// clock stopped at now.
func serveGateway(t *testing.T, keys gateway.Keys, now time.Time) string {
	t.Helper()
	store := memory.New(memory.Config{Zones: []string{"example.com"}})
	srv, err := gateway.New(gateway.Options{
		Addr: "127.0.0.1:0", Keys: keys, ClusterName: frontCluster, RatePerKey: -1,
		Writers: gateway.WritersFunc(func(context.Context, string) (gateway.Writer, error) { return store.Master(), nil }),
		Now:     func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("gateway: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not start")
	}
	return srv.Addr()
}

// signedSOAQuery asks the gateway for the zone's SOA, as nsupdate does
// first, signed with secret at the time at, and returns the answer's rcode
// and TSIG error.
func signedSOAQuery(t *testing.T, addr, keyName, secret string, at time.Time) (int, uint16) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("example.com.", dns.TypeSOA)
	m.SetTsig(keyName, dns.HmacSHA256, 300, at.Unix())
	buf, _, err := dns.TsigGenerate(m, secret, "", false)
	if err != nil {
		t.Fatal(err)
	}
	co, err := dns.Dial("udp", addr)
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
	var r dns.Msg
	if err := r.Unpack(raw); err != nil {
		t.Fatal(err)
	}
	var tsigErr uint16
	if ts := r.IsTsig(); ts != nil {
		tsigErr = ts.Error
	}
	return r.Rcode, tsigErr
}

// The vault's events come through a metadata-only watch, apart from the
// cache the reconcile reads it from, so a reconcile can see a status naming
// a TSIG generation the cached vault does not hold yet, or no vault at all;
// keys read then would be stale or none, with no later event to mend them.
// The API server's vault decides then. A rotation on record whose secret
// the vault has not drawn yet serves the vault's current secret alone.
func TestGatewayKeysReadTheVaultTheStatusNames(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		cached      func(v *corev1.Secret) error // what the cache holds of the vault
		vaultGen    string                       // the API server's vault
		vaultData   map[string][]byte
		wantSecrets []string
		uncached    int
	}{
		"should read the API server's vault when the cache holds an older generation": {
			cached: func(v *corev1.Secret) error {
				v.Annotations = map[string]string{AnnTSIGGeneration: "1"}
				v.Data = map[string][]byte{KeyTSIGSecret: []byte("current")}
				return nil
			},
			vaultGen: "2", vaultData: map[string][]byte{KeyTSIGSecret: []byte("next"), KeyTSIGPrevious: []byte("current")},
			wantSecrets: []string{"next", "current"}, uncached: 1,
		},
		"should read the API server's vault when the cache holds none yet": {
			cached: func(v *corev1.Secret) error {
				return apierrors.NewNotFound(corev1.Resource("secrets"), v.Name)
			},
			vaultGen: "2", vaultData: map[string][]byte{KeyTSIGSecret: []byte("next"), KeyTSIGPrevious: []byte("current")},
			wantSecrets: []string{"next", "current"}, uncached: 1,
		},
		"should read the cache alone when it holds the status's generation": {
			vaultGen: "2", vaultData: map[string][]byte{KeyTSIGSecret: []byte("next"), KeyTSIGPrevious: []byte("current")},
			wantSecrets: []string{"next", "current"},
		},
		"should serve only the current secret while a rotation on record waits for the vault": {
			vaultGen: "1", vaultData: map[string][]byte{KeyTSIGSecret: []byte("current"), KeyTSIGPrevious: []byte("older")},
			wantSecrets: []string{"current"}, uncached: 1,
		},
	} {
		t.Run(name, func(t *testing.T) {
			objs := editFrontDoor(frontDoorObjects(frontDoorScope(true, false)), func(c *v1alpha1.DNSCredential) {
				c.Status.TSIG.Generation = 2
				c.Status.TSIG.PreviousValidUntil = &metav1.Time{Time: time.Date(2030, 1, 1, 1, 0, 0, 0, time.UTC)}
			}, func(v *corev1.Secret) {
				v.Annotations[AnnTSIGGeneration] = tc.vaultGen
				v.Data = tc.vaultData
			})
			r := newFrontDoorReconciler(t, objs...)
			apiServer := r.Client.(client.WithWatch)
			uncached := 0
			r.APIReader = interceptor.NewClient(apiServer, interceptor.Funcs{
				Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
					uncached++
					return c.Get(ctx, key, obj, opts...)
				},
			})
			r.Client = interceptor.NewClient(apiServer, interceptor.Funcs{
				Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
					if err := c.Get(ctx, key, obj, opts...); err != nil {
						return err
					}
					if v, ok := obj.(*corev1.Secret); ok && key.Namespace == "scopedns-system" && tc.cached != nil {
						return tc.cached(v)
					}
					return nil
				},
			})
			res, err := r.Reconcile(ctx, teamAProd)
			if err != nil || res.RequeueAfter > time.Hour {
				t.Fatalf("reconcile: %v, requeue after %v", err, res.RequeueAfter)
			}
			k, ok := r.Keys.Key(TSIGKeyName("team-a", "prod"))
			if !ok || !slices.Equal(k.Secrets, tc.wantSecrets) {
				t.Fatalf("key found = %v, %d secrets, want %d (the API server's vault's)", ok, len(k.Secrets), len(tc.wantSecrets))
			}
			if r.Accounts.Len() != 1 {
				t.Fatalf("%d acme-dns accounts, want the reserved name's", r.Accounts.Len())
			}
			if uncached != tc.uncached {
				t.Fatalf("%d uncached reads, want %d", uncached, tc.uncached)
			}
		})
	}
}
