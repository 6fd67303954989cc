package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/yaml"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/app"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
)

const (
	operatorNamespace = "scopedns-system"
	clusterName       = "bench"
	masterToken       = "bench-master-token-0123456789abcdef"
	accountID         = "0123456789abcdef0123456789abcdef"
	masterSecret      = "cloudflare-master"
)

// provider is one simulator behind its request meter.
type simProvider struct {
	sim   *sim.Server
	http  *httptest.Server
	meter *meter
	url   string // API root for DNSScope.spec.provider.cloudflare.baseURL
	zone  string
}

func newSimProvider(zone string, tokenQuota int) (*simProvider, error) {
	return newSimZones([]string{zone}, tokenQuota)
}

// newSimZones is one simulator serving zones behind its meter. It runs on
// the wall clock: its sliding rate-limit window must see real seconds even
// when the operator's clock jumps.
func newSimZones(zones []string, tokenQuota int) (*simProvider, error) {
	s, err := sim.New(sim.Config{AccountID: accountID, AccountName: "bench", Zones: zones, MasterToken: masterToken, TokenQuota: tokenQuota})
	if err != nil {
		return nil, err
	}
	m := newMeter(s, masterToken)
	h := httptest.NewServer(m)
	return &simProvider{sim: s, http: h, meter: m, url: h.URL + "/client/v4/", zone: zones[0]}, nil
}

// runningManager is one manager started with app.New, as cmd/manager does.
type runningManager struct {
	mgr    manager.Manager
	cancel context.CancelFunc
	done   chan error
}

func (b *bench) startManager(ctx context.Context, clientSideLimit bool, drift time.Duration) error {
	cfg := rest.CopyConfig(b.cfg)
	// cmd/manager uses ctrl.GetConfigOrDie, which turns client-side
	// throttling off (QPS -1) and relies on API priority and fairness.
	cfg.QPS, cfg.Burst = -1, 0
	cfg.WrapTransport = b.api.wrap
	wh := b.env.WebhookInstallOptions
	mgr, err := app.New(cfg, app.Options{
		Namespace:            operatorNamespace,
		ClusterName:          clusterName,
		MetricsAddr:          "0",
		ProbeAddr:            "0",
		WebhookHost:          wh.LocalServingHost,
		WebhookPort:          wh.LocalServingPort,
		WebhookCertDir:       wh.LocalServingCertDir,
		GracefulShutdownTime: 10 * time.Second,
		// The restart measurement starts a second manager in this process.
		SkipNameValidation: true,
		DriftInterval:      drift,
		TokenQuota:         b.tokenQuota,
		Now:                b.clock.Now,
		GatewayAddr:        b.gatewayAddr, // empty: off
		GatewayReplicas:    1,
		ConfigureProvider: func(o *cloudflare.Options) {
			if !clientSideLimit {
				o.RateLimit = -1
			}
		},
	})
	if err != nil {
		return err
	}
	mctx, cancel := context.WithCancel(ctx)
	rm := &runningManager{mgr: mgr, cancel: cancel, done: make(chan error, 1)}
	go func() { rm.done <- mgr.Start(mctx) }()
	b.mgr = rm

	addr := net.JoinHostPort(wh.LocalServingHost, strconv.Itoa(wh.LocalServingPort))
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-rm.done:
			return fmt.Errorf("manager stopped while starting: %w", err)
		default:
		}
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // our own local webhook server
		if err == nil {
			_ = conn.Close()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("webhook server not serving after 60s: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	sctx, scancel := context.WithTimeout(ctx, 2*time.Minute)
	defer scancel()
	if !mgr.GetCache().WaitForCacheSync(sctx) {
		return errors.New("manager cache did not sync")
	}
	return nil
}

func (b *bench) stopManager() error {
	if b.mgr == nil {
		return nil
	}
	b.mgr.cancel()
	select {
	case err := <-b.mgr.done:
		b.mgr = nil
		return err
	case <-time.After(60 * time.Second):
		return errors.New("manager did not stop within 60s")
	}
}

func (b *bench) startControlPlane() error {
	whPort, err := freePort()
	if err != nil {
		return err
	}
	floor, err := floorCRD(b.opts.root)
	if err != nil {
		return err
	}
	b.env = &envtest.Environment{
		CRDs:                  []*apiextensionsv1.CustomResourceDefinition{floor},
		CRDDirectoryPaths:     []string{filepath.Join(b.opts.root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: b.opts.assets,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			Paths:            []string{filepath.Join(b.opts.root, "config", "webhook")},
			LocalServingHost: "127.0.0.1",
			LocalServingPort: whPort,
		},
	}
	cfg, err := b.env.Start()
	if err != nil {
		return fmt.Errorf("starting kube-apiserver and etcd: %w", err)
	}
	b.cfg = cfg
	bc := rest.CopyConfig(cfg)
	bc.QPS, bc.Burst = -1, 0
	b.k8s, err = client.New(bc, client.Options{Scheme: app.Scheme()})
	if err != nil {
		return err
	}
	return nil
}

// floorGroup serves a copy of the DNSRecordClaim CRD (same schema, same CEL
// rules) that no webhook sees, so that the webhook's share of a claim's
// admission can be told apart from what the API server spends on the custom
// resource itself.
const floorGroup = "floor.scopedns.io"

func floorCRD(root string) (*apiextensionsv1.CustomResourceDefinition, error) {
	raw, err := os.ReadFile(filepath.Join(root, "config", "crd", "bases", "scopedns.io_dnsrecordclaims.yaml"))
	if err != nil {
		return nil, err
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(raw, &crd); err != nil {
		return nil, fmt.Errorf("the claim CRD: %w", err)
	}
	crd.Spec.Group = floorGroup
	crd.Name = crd.Spec.Names.Plural + "." + floorGroup
	return &crd, nil
}

func (b *bench) createOperatorNamespace(ctx context.Context) error {
	if err := b.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}}); err != nil {
		return err
	}
	return b.k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: masterSecret},
		Data:       map[string][]byte{"api-token": []byte(masterToken)},
	})
}

// scopeFor grants each selected namespace <anything>.<namespace>.apps.<zone>
// for A and TXT, as a platform admin would for web apps and DNS-01.
func scopeFor(name, label string, p *simProvider) *v1alpha1.DNSScope {
	z := p.zone
	return &v1alpha1.DNSScope{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.DNSScopeSpec{
			Provider: v1alpha1.ProviderSpec{Cloudflare: &v1alpha1.CloudflareProvider{
				AccountID:         accountID,
				APITokenSecretRef: v1alpha1.SecretKeySelector{Name: masterSecret, Key: "api-token"},
				BaseURL:           p.url,
			}},
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{label: "true"}},
			Zones: []v1alpha1.ZoneGrant{{Name: z, Rules: []v1alpha1.GrantRule{{
				Names: []string{"{namespace}.apps." + z, "*.{namespace}.apps." + z,
					"_acme-challenge.{namespace}.apps." + z, "_acme-challenge.*.{namespace}.apps." + z},
				Types:  []v1alpha1.RecordType{v1alpha1.RecordTypeA, v1alpha1.RecordTypeTXT},
				MaxTTL: ptr.To[int32](3600),
			}}}},
		},
	}
}

// claimFor is claim j of a namespace: R A records with one value each; claim
// 0 also reserves the namespace's _acme-challenge TXT (no values), which is
// what gets the namespace a token for DNS-01.
func claimFor(ns, scope, zone string, j, records int) *v1alpha1.DNSRecordClaim {
	var recs []v1alpha1.RecordSpec
	for k := range records {
		recs = append(recs, v1alpha1.RecordSpec{
			Name: fmt.Sprintf("c%d-r%d.%s.apps.%s", j, k, ns, zone), Type: v1alpha1.RecordTypeA, TTL: 300,
			Values: []string{fmt.Sprintf("198.51.%d.%d", j%256, k%256)},
		})
	}
	if j == 0 {
		recs = append(recs, v1alpha1.RecordSpec{Name: "_acme-challenge." + ns + ".apps." + zone, Type: v1alpha1.RecordTypeTXT})
	}
	return &v1alpha1.DNSRecordClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("claim-%d", j)},
		Spec:       v1alpha1.DNSRecordClaimSpec{ScopeName: scope, Records: recs},
	}
}
