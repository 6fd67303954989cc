package controllers

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/scopedns/scopedns/internal/provider"
)

// Metrics exported on the manager's /metrics endpoint. docs/operations.md
// lists them with the alerts worth setting.
var (
	providerRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scopedns_provider_requests_total",
		Help: "Requests to the DNS provider by operation and result.",
	}, []string{"operation", "result"})
	providerLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "scopedns_provider_request_duration_seconds",
		Help:    "Latency of requests to the DNS provider.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
	}, []string{"operation"})
	tokensHeld = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "scopedns_tokens_held",
		Help: "Provider tokens this cluster holds, by scope (current and overlapping previous).",
	}, []string{"scope"})
	providerTokensHeld = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "scopedns_provider_tokens_held",
		Help: "Provider tokens this cluster's DNSCredentials hold (current, previous in their overlap, mints in flight): the count the token quota is checked against.",
	}, []string{"cluster"})
	providerTokenQuota = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "scopedns_provider_token_quota",
		Help: "The provider token quota this cluster mints under (--token-quota).",
	}, []string{"cluster"})
	rotations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scopedns_credential_rotations_total",
		Help: "Credential rotations by scope and result.",
	}, []string{"scope", "result"})
	// vaultCacheBehind counts the gateway keys' uncached vault reads: each is
	// a reconcile that found the cache behind the DNSCredential's status.
	vaultCacheBehind = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "scopedns_gateway_vault_uncached_reads_total",
		Help: "Vault reads the gateway keys controller made from the API server because the cache did not hold the TSIG generation the DNSCredential's status names.",
	})
	tsigKeysIssued = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scopedns_tsig_keys_issued_total",
		Help: "First TSIG keys issued to namespaces, by scope (rotations are in scopedns_credential_rotations_total).",
	}, []string{"scope"})
	revocationFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scopedns_revocation_failures_total",
		Help: "Token revocations that failed and will be retried.",
	}, []string{"scope"})
	revocationsPending = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "scopedns_revocations_pending",
		Help: "Tokens that should be revoked and are not yet, by scope.",
	}, []string{"scope"})
	credentialExpiry = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "scopedns_credential_expiry_timestamp_seconds",
		Help: "When each namespace's current provider token expires (Unix time).",
	}, []string{"scope", "namespace"})
	claimsByState = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "scopedns_claims",
		Help: "Claims by scope and Ready reason.",
	}, []string{"scope", "state"})
	tokensSwept = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "scopedns_tokens_swept_total",
		Help: "Tokens of this cluster revoked by the sweep because no DNSCredential referenced them.",
	})
	batchSplits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "scopedns_record_batch_splits_total",
		Help: "Record batches (of claims or of front-door requests) the provider refused for their content and that were halved to find the writers at fault; each split costs two batch requests.",
	})
	recordChangesRefused = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "scopedns_record_changes_refused_total",
		Help: "Attempts to write one claim's or one front-door request's record changes in a zone that the provider refused for their content.",
	})
	recordsCollected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scopedns_records_collected_total",
		Help: "Records carrying this cluster's owner marker that the record GC removed because no live claim or granted gateway key owned them, by kind of owner (claim, gateway).",
	}, []string{"kind"})
	recordsOrphaned = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "scopedns_records_orphaned",
		Help: "Records of this cluster the last record GC pass found orphaned and is holding for the grace period.",
	})
)

func init() {
	metrics.Registry.MustRegister(providerRequests, providerLatency, tokensHeld, rotations, tsigKeysIssued, vaultCacheBehind,
		revocationFailures, revocationsPending, credentialExpiry, claimsByState, tokensSwept,
		batchSplits, recordChangesRefused, recordsCollected, recordsOrphaned, providerTokensHeld, providerTokenQuota)
}

// observeProvider is the provider.Observer that feeds the metrics above.
var observeProvider provider.Observer = func(op, result string, d time.Duration) {
	providerRequests.WithLabelValues(op, result).Inc()
	providerLatency.WithLabelValues(op).Observe(d.Seconds())
}

var gatewayRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "scopedns_gateway_requests_total",
	Help: "RFC 2136 gateway requests by response code (NOERROR, REFUSED, NOTAUTH, ...).",
}, []string{"rcode"})

var gatewayReplays = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "scopedns_gateway_replays_refused_total",
	Help: "Signed RFC 2136 gateway requests refused because their MAC was seen before inside its time window, by scope of the key.",
}, []string{"scope"})

func init() { metrics.Registry.MustRegister(gatewayRequests, gatewayReplays) }

// ObserveGateway is the gateway's Observer: one count per request by rcode.
func ObserveGateway(rcode string) { gatewayRequests.WithLabelValues(rcode).Inc() }

// ObserveGatewayReplay is the gateway's ReplayObserver: one count per
// replayed request, by the scope of its key (a name the cluster admin
// chose, so the label's values stay few).
func ObserveGatewayReplay(scope string) { gatewayReplays.WithLabelValues(scope).Inc() }

// ObserveFrontDoorSplit and ObserveFrontDoorRefused are the front doors'
// zone writer's batch hooks: its batches are counted with the claims'.
func ObserveFrontDoorSplit()   { batchSplits.Inc() }
func ObserveFrontDoorRefused() { recordChangesRefused.Inc() }
