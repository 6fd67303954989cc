// Package app wires the manager: cache, indexes, webhooks, controllers,
// probes and metrics. cmd/manager and the integration tests both start the
// operator through New, so the tests run exactly what ships.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/controllers"
	"github.com/scopedns/scopedns/internal/acmedns"
	"github.com/scopedns/scopedns/internal/budget"
	"github.com/scopedns/scopedns/internal/cfapi"
	"github.com/scopedns/scopedns/internal/dyndns"
	"github.com/scopedns/scopedns/internal/gateway"
	"github.com/scopedns/scopedns/internal/policy"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
	scopewebhook "github.com/scopedns/scopedns/internal/webhook"
	"github.com/scopedns/scopedns/internal/webhookcert"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

// Options configure the manager.
type Options struct {
	// Namespace is the operator's own namespace: the only place master
	// credentials are read from.
	Namespace string
	// ClusterName names this cluster in provider token names and record
	// ownership comments, so several clusters can share one provider account.
	ClusterName string
	// InstanceID tells this installation from another that uses the same
	// ClusterName on one provider account (the zones' cluster markers);
	// empty derives it from the kube-system namespace's UID and Namespace.
	InstanceID string

	MetricsAddr      string
	ProbeAddr        string
	LeaderElection   bool
	LeaderElectionID string
	// PprofAddr serves net/http/pprof there (controller-runtime's pprof
	// server); empty or "0" turns it off. For profiling at scale
	// (hack/bench -mode scale), never exposed by the chart.
	PprofAddr string

	WebhookHost          string
	WebhookPort          int
	WebhookCertDir       string
	DisableWebhooks      bool
	GracefulShutdownTime time.Duration

	// WebhookCertRotation has the manager issue and renew the webhook's
	// serving certificate itself (internal/webhookcert) instead of reading
	// one that cert-manager keeps in WebhookCertDir.
	WebhookCertRotation bool
	// WebhookCertSecret is the Secret in Namespace that holds the CA and the
	// serving certificate; it must exist (the chart creates it).
	WebhookCertSecret string
	// WebhookServiceName is the webhook Service in Namespace: the
	// certificate is issued for its cluster DNS names.
	WebhookServiceName string
	// WebhookConfigName is the ValidatingWebhookConfiguration whose caBundle
	// the manager keeps.
	WebhookConfigName string
	// WebhookCertExtraDNSNames are further certificate names, for webhooks
	// reached by URL instead of the Service (tests, a manager run outside
	// the cluster).
	WebhookCertExtraDNSNames []string

	// DriftInterval is how often each zone is listed to find drift.
	DriftInterval time.Duration
	// TokenQuota is the provider account's token limit.
	TokenQuota int
	// QuotaRetryInterval is how often a DNSCredential refused a token for
	// the quota looks again when no released token wakes it sooner
	// (default controllers.DefaultQuotaRetryInterval).
	QuotaRetryInterval time.Duration
	// SweepInterval and SweepMinAge pace the sweep of unreferenced tokens.
	SweepInterval time.Duration
	SweepMinAge   time.Duration
	// RecordGCInterval paces the record garbage collector (default 10m);
	// RecordGCGrace is how long a record must stay orphaned before it is
	// removed (default 10m).
	RecordGCInterval time.Duration
	RecordGCGrace    time.Duration
	// MaxBackoff caps controllers' retry delay after errors.
	MaxBackoff time.Duration
	// Now is the clock of rotation and expiry; time.Now when nil.
	Now func() time.Time
	// GatewayAddr is where the RFC 2136 gateway listens (UDP and TCP); empty
	// or "0" turns it off.
	GatewayAddr string
	// GatewayNameserver is the host:port written to credentials Secrets as
	// `nameserver` for RFC 2136 clients; defaults to GatewayAddr.
	GatewayNameserver string
	// GatewayBudgetShare (above 0, below 1; default 0.5) of each master
	// credential's provider rate limit is the gateway's, across
	// GatewayReplicas replicas (default 1: every replica serves the gateway,
	// so each gets an equal part); the rest is reserved for reconciles. See
	// internal/budget.
	GatewayBudgetShare float64
	GatewayReplicas    int
	// HTTPGatewayAddr is where the HTTP front doors (acme-dns, dyndns2)
	// listen; empty or "0" turns them off.
	HTTPGatewayAddr string
	// HTTPGatewayURL is the URL tenants reach the HTTP front door at,
	// written to acmedns.json as server_url. Scopes that enable acmeDNS or
	// dynDNS get no front-door logins without it (FrontDoorsReady says so).
	HTTPGatewayURL string
	// HTTPGatewayCertDir holds tls.crt and tls.key for the HTTP front door
	// (a cert-manager Certificate's Secret, mounted); empty serves plain
	// HTTP, for use behind TLS termination inside the cluster.
	HTTPGatewayCertDir string
	// SkipNameValidation lets several managers run in one process (tests of
	// leader election); controller names are otherwise unique per process.
	SkipNameValidation bool
	// ConfigureProvider adjusts provider client options (simulator, tests).
	ConfigureProvider func(*cloudflare.Options)
	// ConcealConflictHolders words a refusal for a name another namespace's
	// claim holds "already claimed by another namespace", without naming
	// it, in admission answers and claim statuses (what a tenant reads);
	// the holder is logged for the admins, and kubectl scopedns can-i run
	// with rights to read the holder's claims names it. The chart turns it
	// on.
	ConcealConflictHolders bool
}

// Validate reports every bad option at once.
func (o *Options) Validate() error {
	var errs []error
	if o.Namespace == "" {
		errs = append(errs, errors.New("--namespace: the operator's namespace is required (it holds the master credentials)"))
	}
	if o.ClusterName == "" {
		errs = append(errs, errors.New("--cluster-name: required, it names this cluster's tokens and records at the provider"))
	} else if len(o.ClusterName) > 32 {
		errs = append(errs, fmt.Errorf("--cluster-name: %d characters, at most 32 fit in a record comment", len(o.ClusterName)))
	}
	for _, d := range []struct {
		flag  string
		value time.Duration
	}{{"--record-gc-interval", o.RecordGCInterval}, {"--record-gc-grace", o.RecordGCGrace}} {
		if d.value < 0 {
			errs = append(errs, fmt.Errorf("%s: %v is negative", d.flag, d.value))
		}
	}
	if o.GatewayBudgetShare < 0 || o.GatewayBudgetShare >= 1 {
		errs = append(errs, fmt.Errorf("--gateway-budget-share: %v, must be above 0 and below 1 (the rest is the reconciles' reserve)", o.GatewayBudgetShare))
	}
	if o.GatewayReplicas < 0 {
		errs = append(errs, fmt.Errorf("--gateway-replicas: %d, must be at least 1 (the replicas of the Deployment)", o.GatewayReplicas))
	}
	errs = append(errs, validateHTTPGateway(o)...)
	if o.WebhookCertRotation {
		if o.DisableWebhooks {
			errs = append(errs, errors.New("--webhook-cert-rotation: the webhooks are disabled, there is no certificate to rotate"))
		}
		for _, f := range []struct{ flag, value string }{
			{"--webhook-cert-secret", o.WebhookCertSecret},
			{"--webhook-service-name", o.WebhookServiceName},
			{"--webhook-config-name", o.WebhookConfigName},
		} {
			if f.value == "" {
				errs = append(errs, fmt.Errorf("%s: required with --webhook-cert-rotation", f.flag))
			}
		}
	}
	return errors.Join(errs...)
}

// Scheme returns the scheme with the core types and the scopedns API.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	return s
}

// New builds the manager with every webhook and controller registered.
func New(cfg *rest.Config, o Options) (manager.Manager, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	// The manager caches only Secrets it labelled (plus its own namespace,
	// for master credentials), so a cluster full of unrelated Secrets costs
	// it no memory.
	managed := labels.SelectorFromSet(labels.Set{controllers.LabelManagedBy: controllers.ManagedBy})
	mopts := ctrl.Options{
		Scheme:                  Scheme(),
		Metrics:                 metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress:  o.ProbeAddr,
		PprofBindAddress:        orDefault(o.PprofAddr, "0"),
		LeaderElection:          o.LeaderElection,
		LeaderElectionID:        orDefault(o.LeaderElectionID, "scopedns.io"),
		LeaderElectionNamespace: o.Namespace,
		// A standby takes over at most a lease plus a retry after the leader
		// dies without releasing it; 12s+2s keeps that well inside the 20s
		// the operator promises, with room for a loaded node. Renewing at
		// 8s leaves the leader four seconds of slack against API latency.
		LeaseDuration: ptr.To(12 * time.Second),
		RenewDeadline: ptr.To(8 * time.Second),
		RetryPeriod:   ptr.To(2 * time.Second),
		Cache: cache.Options{
			DefaultTransform: cache.TransformStripManagedFields(),
			ByObject: map[client.Object]cache.ByObject{
				&corev1.Secret{}: {Namespaces: map[string]cache.Config{
					o.Namespace:         {}, // master credentials, written by admins
					cache.AllNamespaces: {LabelSelector: managed},
				}, Transform: SecretTransform(o.Namespace)},
			},
		},
	}
	if o.SkipNameValidation {
		mopts.Controller.SkipNameValidation = &o.SkipNameValidation
	}
	if o.GracefulShutdownTime > 0 {
		mopts.GracefulShutdownTimeout = &o.GracefulShutdownTime
	}
	// certsReady is closed by the rotator once the serving certificate is
	// in the webhook's CertDir; nil without rotation.
	var certsReady chan struct{}
	if !o.DisableWebhooks {
		wopts := webhook.Options{Host: o.WebhookHost, Port: o.WebhookPort, CertDir: o.WebhookCertDir}
		var srv webhook.Server
		if o.WebhookCertRotation {
			if wopts.CertDir == "" {
				// controller-runtime's default, which the rotator must know
				// to write there.
				wopts.CertDir = filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs")
			}
			o.WebhookCertDir = wopts.CertDir
			certsReady = make(chan struct{})
			srv = webhookcert.Gate(webhook.NewServer(wopts), certsReady)
		} else {
			srv = webhook.NewServer(wopts)
		}
		mopts.WebhookServer = srv
	}
	mgr, err := ctrl.NewManager(cfg, mopts)
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	if certsReady != nil {
		if err := addCertRotation(mgr, o, certsReady); err != nil {
			return nil, err
		}
	}
	if err := addIndexes(mgr); err != nil {
		return nil, err
	}
	policies := &policy.Cache{}
	var holders *policy.HolderLog // nil: holders are named to the tenants
	if o.ConcealConflictHolders {
		holders = policy.NewHolderLog(ctrl.Log.WithName("claims"), o.Now)
		if err := mgr.Add(holders); err != nil {
			return nil, err
		}
	}
	if !o.DisableWebhooks {
		if err := scopewebhook.SetupScopeWebhook(mgr); err != nil {
			return nil, fmt.Errorf("registering DNSScope webhook: %w", err)
		}
		if err := scopewebhook.SetupClaimWebhook(mgr, policies, holders); err != nil {
			return nil, fmt.Errorf("registering DNSRecordClaim webhook: %w", err)
		}
	}
	if err := addControllers(mgr, o, policies, holders); err != nil {
		return nil, err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	readyz := healthz.Ping
	if !o.DisableWebhooks {
		readyz = mgr.GetWebhookServer().StartedChecker()
	}
	if err := mgr.AddReadyzCheck("readyz", readyz); err != nil {
		return nil, err
	}
	return mgr, nil
}

// SecretTransform is what the cache keeps of a Secret. Tenants can put the
// operator's label on any number of Secrets, each up to a megabyte of data
// and 256 KiB of annotations, and every replica would cache them. The
// controllers watch Secrets as metadata only (builder.OnlyMetadata), so the
// API server sends no data; outside the operator's namespace the cache
// keeps, of that, only what the watches route by: the name, the
// resourceVersion and the operator's own labels. A tenant's Secret is always
// read from the API server when it is reconciled, never from the cache. A
// full Secret that reaches the cache anyway loses its data the same way.
func SecretTransform(operatorNamespace string) toolscache.TransformFunc {
	strip := cache.TransformStripManagedFields()
	return func(obj any) (any, error) {
		obj, err := strip(obj)
		if err != nil {
			return obj, err
		}
		switch s := obj.(type) {
		case *corev1.Secret:
			if s.Namespace != operatorNamespace {
				s.Data, s.StringData = nil, nil
				trimTenantMetadata(&s.ObjectMeta)
			}
		case *metav1.PartialObjectMetadata:
			if s.Namespace != operatorNamespace {
				trimTenantMetadata(&s.ObjectMeta)
			}
		}
		return obj, nil
	}
}

// trimTenantMetadata drops a tenant Secret's annotations, finalizers, owner
// references and every label but the four the watches route by: nothing
// else is read, and the rest is the tenant's to grow (a megabyte of
// scopedns.io/ labels would otherwise sit in every replica).
func trimTenantMetadata(m *metav1.ObjectMeta) {
	m.Annotations, m.Finalizers, m.OwnerReferences, m.GenerateName = nil, nil, nil, ""
	for k := range m.Labels {
		switch k {
		case controllers.LabelManagedBy, controllers.LabelScope, controllers.LabelNamespace, controllers.LabelVault:
		default:
			delete(m.Labels, k)
		}
	}
}

// rotators counts the certificate rotators of this process: cert-controller
// registers its controller under a name that must be unique per process, and
// tests run several managers in one (SkipNameValidation).
var rotators atomic.Int32

func addCertRotation(mgr manager.Manager, o Options, ready chan struct{}) error {
	name := "webhook-cert-rotator"
	if n := rotators.Add(1); o.SkipNameValidation && n > 1 {
		name = fmt.Sprintf("%s-%d", name, n)
	}
	return webhookcert.Add(mgr, webhookcert.Config{
		Secret:         client.ObjectKey{Namespace: o.Namespace, Name: o.WebhookCertSecret},
		Service:        o.WebhookServiceName,
		ExtraDNSNames:  o.WebhookCertExtraDNSNames,
		WebhookConfig:  o.WebhookConfigName,
		CertDir:        o.WebhookCertDir,
		ControllerName: name,
		Ready:          ready,
	})
}

// Defaults of the gateway's share of the provider budget.
const (
	// DefaultGatewayBudgetShare: half. A reconcile pass of the whole cluster
	// (a restart, a drift check, a rotation wave) must not wait behind
	// gateway traffic, and tenants writing through the gateway (DNS-01
	// challenges, a few names each) need far fewer requests than a
	// convergence of every claim; half keeps both going under a flood of
	// either, and reconciles may use the gateway's half when it is idle.
	DefaultGatewayBudgetShare = 0.5
	DefaultGatewayReplicas    = 1
)

func gatewayEnabled(o Options) bool { return o.GatewayAddr != "" && o.GatewayAddr != "0" }

// configureProvider splits each credential's rate limit between the
// gateway's tenants and the reconciles (when the gateway runs), then applies
// the caller's adjustments.
func configureProvider(o Options) func(*cloudflare.Options) {
	return func(co *cloudflare.Options) {
		// Both gateways write for tenants through these clients: either
		// running splits the budget.
		if gatewayEnabled(o) || httpGatewayEnabled(o) {
			co.GatewayShare = cmpOr(o.GatewayBudgetShare, DefaultGatewayBudgetShare)
			co.GatewayReplicas = cmpOr(o.GatewayReplicas, DefaultGatewayReplicas)
		}
		if o.ConfigureProvider != nil {
			o.ConfigureProvider(co)
		}
	}
}

func cmpOr[T int | float64](v, d T) T {
	if v == 0 {
		return d
	}
	return v
}

func addControllers(mgr manager.Manager, o Options, policies *policy.Cache, holders *policy.HolderLog) error {
	providers := &controllers.SecretProviders{Reader: mgr.GetClient(), Live: mgr.GetAPIReader(), Namespace: o.Namespace, Configure: configureProvider(o)}
	// One view of which zones are this installation's, for every writer
	// and collector of records under the cluster name. Its clock is the
	// wall clock: it paces provider calls, not rotation.
	marks := &controllers.ZoneMarks{ClusterName: o.ClusterName, Instance: o.InstanceID, Reader: mgr.GetAPIReader(), Namespace: o.Namespace}
	scopes := &controllers.ScopeReconciler{
		Client: mgr.GetClient(), Providers: providers, Recorder: mgr.GetEventRecorder("scopedns-scope"),
		Namespace: o.Namespace, Now: o.Now, MaxBackoff: o.MaxBackoff, Marks: marks,
	}
	if err := scopes.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the DNSScope controller: %w", err)
	}
	claims := &controllers.ClaimReconciler{
		Client: mgr.GetClient(), Providers: providers, Recorder: mgr.GetEventRecorder("scopedns-claim"),
		Policies: policies, ClusterName: o.ClusterName, DriftInterval: o.DriftInterval, Now: o.Now, MaxBackoff: o.MaxBackoff,
		Marks: marks, ConcealHolders: holders != nil, Holders: holders,
	}
	if err := claims.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the DNSRecordClaim controller: %w", err)
	}
	creds := &controllers.CredentialsReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Providers: providers, Recorder: mgr.GetEventRecorder("scopedns-credentials"),
		Namespace: o.Namespace, ClusterName: o.ClusterName, TokenQuota: o.TokenQuota, QuotaRetryInterval: o.QuotaRetryInterval, Now: o.Now, MaxBackoff: o.MaxBackoff,
		Nameserver: orDefault(o.GatewayNameserver, o.GatewayAddr), Policies: policies,
		HTTPGatewayServed: httpGatewayEnabled(o), HTTPGatewayURL: o.HTTPGatewayURL,
	}
	if err := creds.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the credentials controller: %w", err)
	}
	if err := addGateways(mgr, o, providers, policies, marks); err != nil {
		return err
	}
	if err := mgr.Add(&controllers.TokenSweeper{
		Client: mgr.GetClient(), Providers: providers, ClusterName: o.ClusterName,
		Interval: o.SweepInterval, MinAge: o.SweepMinAge, Now: o.Now, Marks: marks,
	}); err != nil {
		return err
	}
	// The GC's grace guards against cache lag, which is wall time: it runs
	// on the wall clock, not on o.Now.
	return mgr.Add(&controllers.RecordGC{
		Client: mgr.GetClient(), Providers: providers, ClusterName: o.ClusterName,
		Live:     &controllers.ClusterLive{Client: mgr.GetClient(), Policies: policies, ClusterName: o.ClusterName},
		Deleter:  claims,
		Interval: o.RecordGCInterval, Grace: o.RecordGCGrace,
		Marks: marks,
	})
}

// addGateways starts the front doors that are on, with keys and logins kept
// current by one gateway keys controller and every write going through one
// zone writer: the RFC 2136 gateway (--gateway-address) and the HTTP front
// doors (--http-gateway-addr).
func addGateways(mgr manager.Manager, o Options, providers controllers.ProviderSource, policies *policy.Cache, marks *controllers.ZoneMarks) error {
	rfc2136, web := gatewayEnabled(o), httpGatewayEnabled(o)
	if !rfc2136 && !web {
		return nil
	}
	keysCtl := &controllers.GatewayKeysReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Policies: policies, Namespace: o.Namespace, ClusterName: o.ClusterName, Now: o.Now}
	var stores controllers.FrontDoorStores
	if rfc2136 {
		keysCtl.Keys = gateway.NewKeyStore()
	}
	if web {
		stores = controllers.FrontDoorStores{Accounts: acmedns.NewAccountStore(), Users: dyndns.NewUserStore(), Tokens: cfapi.NewTokenStore()}
		keysCtl.Accounts, keysCtl.Users, keysCtl.Tokens = stores.Accounts, stores.Users, stores.Tokens
	}
	if err := keysCtl.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the gateway keys controller: %w", err)
	}
	zw, err := newZoneWriter(mgr, o, providers, marks)
	if err != nil {
		return err
	}
	if rfc2136 {
		if err := addGateway(mgr, o, keysCtl.Keys, zw); err != nil {
			return err
		}
	}
	if web {
		return addHTTPGateway(mgr, o, stores, zw)
	}
	return nil
}

// addGateway starts the RFC 2136 gateway on every replica. It writes
// through the zone writer, on the gateway's share of the provider budget.
func addGateway(mgr manager.Manager, o Options, keys *gateway.KeyStore, zw *zonewriter.Writer) error {
	srv, err := gateway.New(gateway.Options{
		Addr:           o.GatewayAddr,
		Keys:           keys,
		ClusterName:    o.ClusterName,
		ZoneWriter:     zw,
		Logger:         slog.New(logr.ToSlogHandler(ctrl.Log.WithName("gateway"))),
		Observer:       controllers.ObserveGateway,
		ReplayObserver: controllers.ObserveGatewayReplay,
		// TSIG time checks run on the wall clock, whatever clock rotation uses.
	})
	if err != nil {
		return fmt.Errorf("--gateway-address: %w", err)
	}
	return mgr.Add(srv)
}

// newZoneWriter is the one write path of the front doors: one snapshot and
// one batch per zone for all of them, and the gateway's share of each master
// token's budget (budget.Split, as configureProvider splits it) divided
// between their tenants.
// Writes in a zone another installation of the cluster name marked fail
// (marks.Guard): the front doors' records carry the same gateway markers.
func newZoneWriter(mgr manager.Manager, o Options, providers controllers.ProviderSource, marks *controllers.ZoneMarks) (*zonewriter.Writer, error) {
	reader := mgr.GetClient()
	share := budget.Split(cloudflare.DefaultRateLimit, cmpOr(o.GatewayBudgetShare, DefaultGatewayBudgetShare), cmpOr(o.GatewayReplicas, DefaultGatewayReplicas))
	zw, err := zonewriter.New(zonewriter.Options{
		Providers: zonewriter.ProvidersFunc(func(ctx context.Context, scopeName string) (zonewriter.Provider, error) {
			var scope v1alpha1.DNSScope
			if err := reader.Get(ctx, client.ObjectKey{Name: scopeName}, &scope); err != nil {
				return nil, err
			}
			p, err := providers.For(ctx, &scope)
			if err != nil {
				return nil, err
			}
			return marks.Guard(p, &scope), nil
		}),
		RequestBudget: share.Gateway,
		BudgetWindow:  cloudflare.DefaultRateWindow,
		Logger:        slog.New(logr.ToSlogHandler(ctrl.Log.WithName("zonewriter"))),
		Hooks:         zonewriter.Hooks{Split: controllers.ObserveFrontDoorSplit, Refused: controllers.ObserveFrontDoorRefused},
	})
	if err != nil {
		return nil, fmt.Errorf("the front doors' zone writer: %w", err)
	}
	return zw, nil
}

func addIndexes(mgr manager.Manager) error {
	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &v1alpha1.DNSRecordClaim{}, policy.NameIndex, policy.IndexRecordNames); err != nil {
		return fmt.Errorf("indexing claims by record name: %w", err)
	}
	if err := idx.IndexField(ctx, &v1alpha1.DNSRecordClaim{}, policy.AncestorIndex, policy.IndexRecordAncestors); err != nil {
		return fmt.Errorf("indexing claims by record name ancestor: %w", err)
	}
	if err := idx.IndexField(ctx, &v1alpha1.DNSRecordClaim{}, policy.ScopeIndex, policy.IndexScopeName); err != nil {
		return fmt.Errorf("indexing claims by scope: %w", err)
	}
	if err := idx.IndexField(ctx, &v1alpha1.DNSCredential{}, controllers.CredentialNamespaceIndex, controllers.IndexCredentialNamespace); err != nil {
		return fmt.Errorf("indexing DNSCredentials by namespace: %w", err)
	}
	if err := idx.IndexField(ctx, &v1alpha1.DNSCredential{}, controllers.HeldTokensIndex, controllers.IndexHeldTokens); err != nil {
		return fmt.Errorf("indexing DNSCredentials holding provider tokens: %w", err)
	}
	return nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
