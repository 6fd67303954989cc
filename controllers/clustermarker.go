package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/provider"
)

// ZoneMarks is the one answer to "is this zone this installation's to
// write, adopt and collect in": a zone that holds another installation's
// marker of this cluster name (provider.MarkZone) is not. The claim
// controller writes nothing there, the record GC and the token sweep collect
// nothing there, and the scope controller reports it (ClusterNameConflict).
// Each zone is looked at once per Interval (a conflict once a minute, so
// its fix shows soon), not once per claim.
//
// A nil *ZoneMarks checks nothing (unit tests of other concerns).
type ZoneMarks struct {
	ClusterName string
	// Instance is this installation's ID (--instance-id). Empty derives it
	// from the UID of the kube-system namespace and Namespace, read with
	// Reader: stable across restarts, upgrades and replicas, different for
	// another cluster and for a second installation in another namespace.
	Instance  string
	Reader    client.Reader
	Namespace string
	// Interval between looks at a zone without a conflict (default 10m).
	Interval time.Duration
	Now      func() time.Time

	mu       sync.Mutex
	instance string
	zones    map[string]zoneMark // account + zone ID
}

type zoneMark struct {
	err error // nil or a *provider.ClusterNameConflictError
	at  time.Time
}

// conflictRecheck is how soon a zone in conflict is looked at again.
const conflictRecheck = time.Minute

// Check returns nil when the zone is this installation's, an error that
// satisfies errors.Is(err, provider.ErrClusterNameConflict) when another
// installation of the cluster name marked it, or the error of a failed
// look (not remembered: the next call looks again). account is
// providerAccount of the scope the zone was reached through.
func (m *ZoneMarks) Check(ctx context.Context, p provider.Provider, account string, zone provider.Zone) error {
	if m == nil {
		return nil
	}
	key := account + "\x00" + zone.ID
	now := m.now()
	m.mu.Lock()
	prev, ok := m.zones[key]
	m.mu.Unlock()
	if ok && now.Sub(prev.at) < m.recheck(prev.err) {
		return prev.err
	}
	instance, err := m.instanceID(ctx)
	if err != nil {
		return err
	}
	err = provider.MarkZone(ctx, p, zone, m.ClusterName, instance)
	var conflict *provider.ClusterNameConflictError
	switch {
	case errors.As(err, &conflict):
		clusterNameConflicts.WithLabelValues(conflict.Zone).Set(1)
		if !ok || prev.err == nil {
			log.FromContext(ctx).Error(err, "another installation uses this cluster name; nothing is written, adopted or collected in the zone",
				"zone", conflict.Zone, "cluster", m.ClusterName, "instance", instance, "others", conflict.Others)
		}
	case provider.IsForbidden(err):
		// The master credential may not write the marker (an RFC 2136
		// update-policy that names only the tenants' names): the zone
		// cannot be checked, and refusing it would stop a working setup
		// on upgrade. Said once per interval; docs/operations.md tells
		// which name to allow.
		log.FromContext(ctx).Info("the cluster marker cannot be written; two installations with one cluster name would go unnoticed in this zone",
			"zone", zone.Name, "marker", provider.ClusterMarkerName(zone.Name), "error", err.Error())
		err = nil
	case err != nil:
		return err
	default:
		clusterNameConflicts.DeleteLabelValues(provider.NormalizeName(zone.Name))
	}
	m.mu.Lock()
	if m.zones == nil {
		m.zones = map[string]zoneMark{}
	}
	m.zones[key] = zoneMark{err: err, at: now}
	m.mu.Unlock()
	return err
}

func (m *ZoneMarks) recheck(err error) time.Duration {
	if err != nil {
		return conflictRecheck
	}
	return orDuration(m.Interval, 10*time.Minute)
}

// instanceID is Instance, or the ID derived once from the cluster.
func (m *ZoneMarks) instanceID(ctx context.Context) (string, error) {
	if m.Instance != "" {
		return m.Instance, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.instance != "" {
		return m.instance, nil
	}
	var ns corev1.Namespace
	if err := m.Reader.Get(ctx, client.ObjectKey{Name: "kube-system"}, &ns); err != nil {
		return "", fmt.Errorf("reading namespace kube-system for this installation's instance ID (or set --instance-id): %w", err)
	}
	m.instance = InstanceID(string(ns.UID), m.Namespace)
	return m.instance, nil
}

// InstanceID is the instance ID of an installation in the operator
// namespace of the cluster whose kube-system namespace has that UID.
func InstanceID(kubeSystemUID, namespace string) string {
	h := sha256.Sum256([]byte(kubeSystemUID + "/" + namespace))
	return hex.EncodeToString(h[:8])
}

func (m *ZoneMarks) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// clusterNameConflicts is 1 for each zone that holds another installation's
// marker of this cluster name; its own registration keeps it beside its
// one writer.
var clusterNameConflicts = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "scopedns_cluster_name_conflicts",
	Help: "Zones (by name) where another installation with this --cluster-name left its marker: nothing is written, adopted or collected there.",
}, []string{"zone"})

func init() { metrics.Registry.MustRegister(clusterNameConflicts) }

// Guard wraps a scope's provider for the front doors' zone writer, whose
// tenants' records carry this cluster's gateway markers: a write in a zone
// that is not this installation's fails (the writer answers Failed) with
// words that name no other installation. Reads go through: a key sees only
// its own names either way.
func (m *ZoneMarks) Guard(p provider.Provider, scope *v1alpha1.DNSScope) provider.Provider {
	if m == nil {
		return p
	}
	zones := make(map[string]string, len(scope.Status.Zones))
	for _, z := range scope.Status.Zones {
		zones[z.ID] = z.Name
	}
	return &markedProvider{Provider: p, marks: m, account: providerAccount(scope), zones: zones}
}

type markedProvider struct {
	provider.Provider
	marks   *ZoneMarks
	account string
	zones   map[string]string // ID -> name
}

func (g *markedProvider) ApplyChanges(ctx context.Context, zoneID string, c provider.Changes) (provider.ApplyResult, error) {
	name := g.zones[zoneID]
	if err := g.marks.Check(ctx, g.Provider, g.account, provider.Zone{ID: zoneID, Name: name}); err != nil {
		if errors.Is(err, provider.ErrClusterNameConflict) {
			return provider.ApplyResult{}, fmt.Errorf("%w: zone %s: another installation of this operator uses its cluster name on the provider account; nothing is written there until the platform admins resolve it",
				provider.ErrClusterNameConflict, name)
		}
		return provider.ApplyResult{}, err
	}
	return g.Provider.ApplyChanges(ctx, zoneID, c)
}
