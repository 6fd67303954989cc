// Package ha runs two managers with leader election against one API server
// and kills the leader without a graceful release, as a crashed pod would.
package ha

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/controllers"
	"github.com/scopedns/scopedns/internal/app"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider"
)

const (
	account = "0123456789abcdef0123456789abcdef"
	master  = "ha-master-token-value-0123456789abcdef"
	opNS    = "scopedns-system"
)

func TestLeaderHandsOverAndNothingIsDoneTwice(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set: run with `make test`")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()

	cf, err := sim.New(sim.Config{AccountID: account, AccountName: "ha", Zones: []string{"example.com"}, MasterToken: master})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(cf)
	defer srv.Close()

	k8s, err := client.New(cfg, client.Options{Scheme: app.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: opNS}}))
	must(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: opNS, Name: "cloudflare-master"},
		Data: map[string][]byte{"api-token": []byte(master)}}))

	start := func(id string) (manager.Manager, context.CancelFunc) {
		mgr, err := app.New(cfg, app.Options{
			Namespace: opNS, ClusterName: "ha", MetricsAddr: "0", ProbeAddr: "0",
			LeaderElection: true, DisableWebhooks: true, SkipNameValidation: true,
			MaxBackoff: 2 * time.Second,
		})
		must(err)
		mctx, mcancel := context.WithCancel(ctx)
		go func() { _ = mgr.Start(mctx) }()
		return mgr, mcancel
	}
	mgrA, stopA := start("a")
	select {
	case <-mgrA.Elected():
	case <-time.After(30 * time.Second):
		t.Fatal("manager a was not elected")
	}
	mgrB, stopB := start("b")
	defer stopB()

	must(k8s.Create(ctx, &v1alpha1.DNSScope{
		ObjectMeta: metav1.ObjectMeta{Name: "prod"},
		Spec: v1alpha1.DNSScopeSpec{
			Provider: v1alpha1.ProviderSpec{Cloudflare: &v1alpha1.CloudflareProvider{
				AccountID: account, BaseURL: srv.URL + "/client/v4/",
				APITokenSecretRef: v1alpha1.SecretKeySelector{Name: "cloudflare-master", Key: "api-token"},
			}},
			NamespaceSelector: metav1.LabelSelector{},
			Zones: []v1alpha1.ZoneGrant{{Name: "example.com", Rules: []v1alpha1.GrantRule{{
				Names: []string{"*.{namespace}.example.com"}, Types: []v1alpha1.RecordType{"A", "TXT"},
			}}}},
		},
	}))
	claim := func(ns string) *v1alpha1.DNSRecordClaim {
		must(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
		c := &v1alpha1.DNSRecordClaim{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
			Spec: v1alpha1.DNSRecordClaimSpec{ScopeName: "prod", Records: []v1alpha1.RecordSpec{
				{Name: "www." + ns + ".example.com", Type: "A", TTL: 300, Values: []string{"203.0.113.7"}},
				{Name: "_acme-challenge." + ns + ".example.com", Type: "TXT", TTL: 300},
			}},
		}
		must(k8s.Create(ctx, c))
		return c
	}
	g := NewWithT(t)
	waitReady := func(c *v1alpha1.DNSRecordClaim, within time.Duration) {
		t.Helper()
		g.Eventually(func(g Gomega) {
			var s corev1.Secret
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(c), c)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(c.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue(), "%+v", c.Status.Conditions)
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: "prod-dns-credentials"}, &s)).To(Succeed())
			g.Expect(s.Data[controllers.KeyAPIToken]).NotTo(BeEmpty())
			var dc v1alpha1.DNSCredential
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: v1alpha1.DNSCredentialName("prod", c.Namespace)}, &dc)).To(Succeed())
			g.Expect(dc.Status.Minting).To(BeEmpty())
		}, within, 100*time.Millisecond).Should(Succeed())
	}
	waitReady(claim("team-a"), 60*time.Second)

	// Kill the leader without releasing its lease, as a crashed pod would.
	stopA()
	killed := time.Now()
	select {
	case <-mgrB.Elected():
	case <-time.After(30 * time.Second):
		t.Fatal("manager b never took over")
	}
	elected := time.Since(killed)
	late := claim("team-b")
	waitReady(late, 60*time.Second)
	t.Logf("handover: b elected %v after a was killed; a claim made then was Ready with credentials %v after the kill",
		elected.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
	if elected > 20*time.Second {
		t.Fatalf("b took over %v after the leader died; want within 20s (15s lease)", elected)
	}

	// Nothing done twice: one record per claimed value, one live token per namespace.
	for _, ns := range []string{"team-a", "team-b"} {
		n := 0
		for _, r := range cf.Records("example.com") {
			if r.Name == "www."+ns+".example.com" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d records for www.%s.example.com, want exactly 1", n, ns)
		}
		tokens := 0
		for _, tok := range cf.Tokens() {
			if p, ok := provider.ParseTokenName(tok.Name); ok && p.Namespace == ns {
				tokens++
			}
		}
		if tokens != 1 {
			t.Errorf("%d tokens for namespace %s, want exactly 1", tokens, ns)
		}
	}
}
