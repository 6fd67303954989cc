package ha

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/controllers"
	"github.com/scopedns/scopedns/internal/app"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
)

// TestKilledManagerLeaksNothing stops the manager abruptly, over and over,
// while claims arrive and the provider is slow and flaky: reconciles are cut
// off mid-mint, mid-batch, mid-rotation and mid-revocation (the operator's
// clock moves past every namespace's rotation, and past the overlap of the
// one before, each round). A last manager then converges, and after one
// sweep no token of this cluster is unreferenced, no record is duplicated
// or missing, and every namespace's token works.
func TestKilledManagerLeaksNothing(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set: run with `make test`")
	}
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = env.Stop() }()

	// make bench runs this larger: rounds × namespaces × 2 tokens (current and
	// previous) must fit the account's token quota there too.
	rounds, perRound := envInt(t, "SCOPEDNS_KILL_ROUNDS", 8), envInt(t, "SCOPEDNS_KILL_NAMESPACES", 3)
	quota := max(500, 3*rounds*perRound)
	cf, err := sim.New(sim.Config{AccountID: account, AccountName: "kill", Zones: []string{"example.com"}, MasterToken: master, TokenQuota: quota})
	g.Expect(err).NotTo(HaveOccurred())
	// Rate limits off on both sides: the subject is abrupt stops, and at
	// make bench's size the rounds mint more than 1,200 tokens, which paced
	// at 1,200 per 5 minutes would only make the test wait (pacing is
	// measured by hack/bench).
	cf.SetRateLimit(-1, 0)
	srv := httptest.NewServer(cf)
	defer srv.Close()
	baseURL := srv.URL + "/client/v4/"

	k8s, err := client.New(cfg, client.Options{Scheme: app.Scheme()})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: opNS}})).To(Succeed())
	g.Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: opNS, Name: "cloudflare-master"},
		Data: map[string][]byte{"api-token": []byte(master)}})).To(Succeed())
	g.Expect(k8s.Create(ctx, &v1alpha1.DNSScope{
		ObjectMeta: metav1.ObjectMeta{Name: "prod"},
		Spec: v1alpha1.DNSScopeSpec{
			Provider: v1alpha1.ProviderSpec{Cloudflare: &v1alpha1.CloudflareProvider{
				AccountID: account, BaseURL: baseURL,
				APITokenSecretRef: v1alpha1.SecretKeySelector{Name: "cloudflare-master", Key: "api-token"},
			}},
			Zones: []v1alpha1.ZoneGrant{{Name: "example.com", Rules: []v1alpha1.GrantRule{{
				Names: []string{"*.{namespace}.example.com"}, Types: []v1alpha1.RecordType{"A", "TXT"},
			}}}},
			Credentials: v1alpha1.CredentialsSpec{
				Rotation:    v1alpha1.RotationSpec{Schedule: "@every 1h", Overlap: &metav1.Duration{Duration: 10 * time.Minute}},
				ExpireAfter: &metav1.Duration{Duration: 2 * time.Hour},
			},
		},
	})).To(Succeed())

	// The operator's clock: each round moves it past every rotation (at
	// most an hour and its spread of a few minutes) and past the overlap of
	// the previous one.
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }

	run := func(d time.Duration) {
		mgr, err := app.New(cfg, app.Options{
			Namespace: opNS, ClusterName: "kill", MetricsAddr: "0", ProbeAddr: "0", Now: now, TokenQuota: quota, ConfigureProvider: noRateLimit,
			DisableWebhooks: true, SkipNameValidation: true, MaxBackoff: time.Second,
			GracefulShutdownTime: time.Millisecond, // abandon in-flight reconciles, as a kill would
		})
		g.Expect(err).NotTo(HaveOccurred())
		mctx, stop := context.WithTimeout(ctx, d)
		defer stop()
		_ = mgr.Start(mctx)
	}

	cf.SetFaults(sim.Faults{ErrorRate: 0.1, Latency: 3 * time.Millisecond, Seed: 11})
	rng := rand.New(rand.NewPCG(1, 2))
	var namespaces []string
	for round := 0; round < rounds; round++ {
		for i := 0; i < perRound; i++ {
			ns := fmt.Sprintf("r%d-t%d", round, i)
			namespaces = append(namespaces, ns)
			g.Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
			g.Expect(k8s.Create(ctx, &v1alpha1.DNSRecordClaim{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
				Spec: v1alpha1.DNSRecordClaimSpec{ScopeName: "prod", Records: []v1alpha1.RecordSpec{
					{Name: "www." + ns + ".example.com", Type: "A", TTL: 300, Values: []string{"203.0.113.1", "203.0.113.2"}},
					{Name: "_acme-challenge." + ns + ".example.com", Type: "TXT", TTL: 300},
				}},
			})).To(Succeed())
		}
		// A window long enough for a mint and its bookkeeping (the
		// DNSCredential status, the vault, the tenant Secret) to finish
		// sometimes, short enough that most rounds cut into one.
		run(time.Duration(300+rng.IntN(2200)) * time.Millisecond)
		offset.Add(int64(65 * time.Minute))
	}

	// Recovery: the provider behaves, a last manager runs until all converge.
	cf.SetFaults(sim.Faults{})
	mgr, err := app.New(cfg, app.Options{
		Namespace: opNS, ClusterName: "kill", MetricsAddr: "0", ProbeAddr: "0", Now: now, TokenQuota: quota, ConfigureProvider: noRateLimit,
		DisableWebhooks: true, SkipNameValidation: true, MaxBackoff: time.Second,
	})
	g.Expect(err).NotTo(HaveOccurred())
	mctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = mgr.Start(mctx) }()

	for _, ns := range namespaces {
		g.Eventually(func(g Gomega) {
			var c v1alpha1.DNSRecordClaim
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &c)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(c.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue(), "%s: %+v", ns, c.Status.Conditions)
			var s corev1.Secret
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "prod-dns-credentials"}, &s)).To(Succeed())
			g.Expect(s.Data[controllers.KeyAPIToken]).NotTo(BeEmpty())
			var dc v1alpha1.DNSCredential
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: v1alpha1.DNSCredentialName("prod", ns)}, &dc)).To(Succeed())
			g.Expect(dc.Status.Minting).To(BeEmpty())
			g.Expect(dc.Status.Token).NotTo(BeNil())
			g.Expect(string(s.UID)).To(Equal(string(dc.Status.SecretUID)), "%s: the Secret is the operator's own", ns)
			// Every rotation left due by the rounds is done, so the sweep
			// below does not race a mint (in production MinAge covers that).
			g.Expect(dc.Status.NextRotation).NotTo(BeNil())
			next := dc.Status.NextRotation.Time
			g.Expect(next.After(now())).To(BeTrue(), "%s: rotation due at %s is not done", ns, next)
		}, 90*time.Second, 200*time.Millisecond).Should(Succeed())
	}

	sweeper := &controllers.TokenSweeper{Client: k8s, ClusterName: "kill", MinAge: time.Nanosecond,
		Providers: &controllers.SecretProviders{Reader: k8s, Namespace: opNS}}
	swept, err := sweeper.Sweep(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	t.Logf("%d rounds of abrupt stops over %d namespaces; the sweep revoked %d leaked tokens", rounds, len(namespaces), swept)

	referenced := map[string]string{}
	for _, ns := range namespaces {
		var s corev1.Secret
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "prod-dns-credentials"}, &s)).To(Succeed())
		var dc v1alpha1.DNSCredential
		g.Expect(k8s.Get(ctx, client.ObjectKey{Name: v1alpha1.DNSCredentialName("prod", ns)}, &dc)).To(Succeed())
		referenced[dc.Status.Token.ID] = ns
		if prev := dc.Status.PreviousToken; prev != nil {
			referenced[prev.ID] = ns // rotated out, inside its overlap
		}

		token := provider.Secret(s.Data[controllers.KeyAPIToken])
		g.Expect(tokenWorks(ctx, baseURL, token, cf.ZoneID("example.com"))).To(Succeed(), "namespace %s has a working token", ns)

		var values []string
		for _, r := range cf.Records("example.com") {
			if r.Name == "www."+ns+".example.com" {
				values = append(values, r.Content)
			}
		}
		g.Expect(values).To(ConsistOf("203.0.113.1", "203.0.113.2"), "no record of %s lost or duplicated", ns)
	}
	for _, tok := range cf.Tokens() {
		if parts, ok := provider.ParseTokenName(tok.Name); ok && parts.Cluster == "kill" {
			g.Expect(referenced).To(HaveKey(tok.ID), "token %s (%s) is referenced by no DNSCredential", tok.ID, tok.Name)
		}
	}
	// The rounds must really have cut into rotations: far more tokens were
	// minted than namespaces hold.
	minted := cf.Requests()["tokens.create"]
	t.Logf("%d tokens minted for %d namespaces", minted, len(namespaces))
	g.Expect(minted).To(BeNumerically(">", 2*len(namespaces)), "the rounds rotated tokens")
}

// envInt reads a positive size from the environment, or returns def.
func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func noRateLimit(o *cloudflare.Options) { o.RateLimit = -1 }
