// Command manager runs the scopedns operator: admission webhooks, controllers,
// the RFC 2136 gateway, the HTTP front doors (acme-dns, dyndns2), health
// probes and metrics.
package main

import (
	"flag"
	"log/slog"
	"os"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/scopedns/scopedns/controllers"
	"github.com/scopedns/scopedns/internal/app"
)

func main() {
	var o app.Options
	flag.StringVar(&o.Namespace, "namespace", os.Getenv("POD_NAMESPACE"), "The operator's namespace, the only place master credentials are read from (default $POD_NAMESPACE).")
	flag.StringVar(&o.ClusterName, "cluster-name", "", "Name of this cluster in provider token names and record ownership comments (at most 32 characters).")
	flag.StringVar(&o.InstanceID, "instance-id", "", "ID of this installation in the zones' cluster markers (TXT _scopedns-owner.<zone>), which tell it from another installation with the same --cluster-name on one provider account; default derived from the kube-system namespace's UID and --namespace.")
	flag.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", "Address the Prometheus metrics endpoint binds to; 0 disables it.")
	flag.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", "Address the /healthz and /readyz probes bind to.")
	flag.StringVar(&o.PprofAddr, "pprof-bind-address", "", "Address net/http/pprof binds to, for profiling; empty or 0 disables it (never expose it outside the pod).")
	flag.BoolVar(&o.LeaderElection, "leader-elect", false, "Elect a leader so only one replica runs controllers; every replica serves webhooks.")
	flag.StringVar(&o.WebhookHost, "webhook-host", "", "Address the webhook server binds to (all interfaces when empty).")
	flag.IntVar(&o.WebhookPort, "webhook-port", 9443, "Port of the webhook server.")
	flag.StringVar(&o.WebhookCertDir, "webhook-cert-dir", "", "Directory with tls.crt and tls.key for the webhook server.")
	flag.BoolVar(&o.WebhookCertRotation, "webhook-cert-rotation", false, "Issue, renew and write the webhook's serving certificate into --webhook-cert-dir, and keep its CA in the webhook configuration, instead of reading a certificate kept by cert-manager.")
	flag.StringVar(&o.WebhookCertSecret, "webhook-cert-secret", "", "With --webhook-cert-rotation: the Secret in --namespace that holds the CA and serving certificate; it must exist.")
	flag.StringVar(&o.WebhookServiceName, "webhook-service-name", "", "With --webhook-cert-rotation: the webhook Service in --namespace, whose DNS names the certificate is issued for.")
	flag.StringVar(&o.WebhookConfigName, "webhook-config-name", "", "With --webhook-cert-rotation: the ValidatingWebhookConfiguration whose caBundle is kept.")
	flag.BoolVar(&o.DisableWebhooks, "disable-webhooks", false, "Run without admission webhooks (the controllers still refuse claims outside their grant).")
	flag.DurationVar(&o.GracefulShutdownTime, "graceful-shutdown-timeout", 30*time.Second, "How long to wait for running reconciles on shutdown.")
	flag.DurationVar(&o.DriftInterval, "drift-interval", 10*time.Minute, "How often each zone's records are listed to find and repair drift.")
	flag.IntVar(&o.TokenQuota, "token-quota", 500, "The provider account's API token limit; mints and rotations that would cross it are postponed (DNSCredential condition QuotaExceeded).")
	flag.DurationVar(&o.QuotaRetryInterval, "quota-retry-interval", controllers.DefaultQuotaRetryInterval, "How often a DNSCredential refused a token for the quota looks again when no token released by this cluster wakes it sooner.")
	flag.DurationVar(&o.SweepInterval, "sweep-interval", 10*time.Minute, "How often tokens of this cluster that no Secret references are revoked.")
	flag.DurationVar(&o.SweepMinAge, "sweep-min-age", 5*time.Minute, "Tokens younger than this are never swept (a Secret write may be in flight).")
	flag.DurationVar(&o.RecordGCInterval, "record-gc-interval", 10*time.Minute, "How often the record garbage collector lists each Ready scope's zones for records of this cluster that no live claim or granted gateway key owns.")
	flag.DurationVar(&o.RecordGCGrace, "record-gc-grace", 10*time.Minute, "How long such a record must stay orphaned (seen on two passes at least this far apart) before it is removed; protects records of claims the cache has not seen yet.")
	flag.StringVar(&o.GatewayAddr, "gateway-address", ":5353", "Address (UDP and TCP) of the RFC 2136 gateway; 0 turns it off.")
	flag.StringVar(&o.GatewayNameserver, "gateway-nameserver", "", "host:port of the gateway as RFC 2136 clients reach it (the Service), written to credentials Secrets as `nameserver`; defaults to --gateway-address.")
	flag.Float64Var(&o.GatewayBudgetShare, "gateway-budget-share", app.DefaultGatewayBudgetShare, "Fraction (above 0, below 1) of each master credential's provider rate limit that the RFC 2136 gateway's tenants may use, across all replicas; the rest is reserved for reconciles. Each namespace gets a fair slice of it.")
	flag.IntVar(&o.GatewayReplicas, "gateway-replicas", app.DefaultGatewayReplicas, "Replicas of the manager (each serves the gateway): each gets an equal part of the gateway's budget share, so that together they stay within the provider's limit. The chart sets it from replicaCount.")
	flag.StringVar(&o.HTTPGatewayAddr, "http-gateway-addr", "", "Address (TCP) of the HTTP front doors: acme-dns (/update, /health) and dyndns2 (/nic/update); empty turns them off.")
	flag.StringVar(&o.HTTPGatewayURL, "http-gateway-url", "", "URL tenants reach the HTTP front doors at (the Service or an Ingress, e.g. https://dns-gateway.example.net), written to acmedns.json as server_url; required for scopes that enable acmeDNS or dynDNS to get logins.")
	flag.StringVar(&o.HTTPGatewayCertDir, "http-gateway-cert-dir", "", "Directory with tls.crt and tls.key (e.g. a cert-manager Certificate's Secret, mounted; reloaded when they change) for the HTTP front doors; empty serves plain HTTP, for use behind TLS termination inside the cluster.")
	flag.BoolVar(&o.ConcealConflictHolders, "conceal-conflict-holders", false, "Word refusals for a name another namespace's claim holds as \"already claimed by another namespace\", without naming it, in admission answers and claim statuses; the holder is logged for admins (the chart turns it on).")
	zopts := zap.Options{}
	zopts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zopts)))
	log := ctrl.Log.WithName("setup")

	// A soft memory limit at 90% of the container's: the informer caches grow
	// with the tenants (about 19 KiB live per namespace, docs/operations.md
	// "Sizing"), and by default the heap may reach twice its live size
	// before the collector runs, past a limit that fits the live size (RSS
	// 455 MiB at 10,000 namespaces with 188 MiB live). GOMEMLIMIT or
	// AUTOMEMLIMIT in the environment take precedence; outside a cgroup
	// with a limit nothing is set.
	if _, err := memlimit.Set(memlimit.WithProvider(memlimit.FromCgroup),
		memlimit.WithLogger(slog.New(logr.ToSlogHandler(ctrl.Log.WithName("memlimit"))))); err != nil {
		log.Error(err, "unable to set the Go memory limit from the container's; running without one")
	}

	mgr, err := app.New(ctrl.GetConfigOrDie(), o)
	if err != nil {
		log.Error(err, "unable to set up the manager")
		os.Exit(1)
	}
	log.Info("starting manager", "namespace", o.Namespace, "cluster", o.ClusterName)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "manager stopped with an error")
		os.Exit(1)
	}
}
