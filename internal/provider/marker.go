package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The cluster marker. Owner markers (OwnerComment) and token names
// (TokenName) carry the cluster name, and that is all the operator knows a
// record or a token by: two installations started with one --cluster-name on
// one provider account would each take the other's records for their own,
// adopt them and collect them. So each installation also leaves, in every
// zone it writes, one TXT record at ClusterMarkerName whose comment names the
// cluster (ClusterMarkerComment) and whose text is the installation's own
// random-looking instance ID (ClusterMarkerContent). A marker of its cluster
// name with another instance ID is the other installation: MarkZone reports
// it, and the callers neither write, adopt nor collect in that zone.
const (
	clusterMarkerLabel   = "_scopedns-owner"
	clusterMarkerScheme  = "scopedns-instance:"
	clusterMarkerContent = "scopedns-instance="
	// ClusterMarkerTTL is the marker's TTL; nothing resolves it but people.
	ClusterMarkerTTL = 3600
)

// ClusterMarkerName is the name of the cluster markers in a zone.
func ClusterMarkerName(zone string) string {
	return clusterMarkerLabel + "." + NormalizeName(zone)
}

// ClusterMarkerComment is the comment of the given cluster's marker. It is
// not an owner marker (ParseOwner refuses it), so the record GC never takes
// it for an orphan.
func ClusterMarkerComment(cluster string) string {
	return clusterMarkerScheme + clusterPart(cluster)
}

// ClusterMarkerContent is the text of an installation's marker.
func ClusterMarkerContent(instance string) string { return clusterMarkerContent + instance }

// ErrClusterNameConflict is matched (errors.Is) by a *ClusterNameConflictError.
var ErrClusterNameConflict = errors.New("another installation uses this cluster name")

// ClusterNameConflictError says a zone holds the marker of another
// installation with this cluster name.
type ClusterNameConflictError struct {
	Zone    string
	Cluster string
	// Instance is this installation's ID, Others the IDs the other markers
	// carry (sorted), as read from the zone.
	Instance string
	Others   []string
}

func (e *ClusterNameConflictError) Error() string {
	return fmt.Sprintf("zone %s holds the marker of another installation with cluster name %q (instance %s; this one is %s): "+
		"records and tokens named for %q would be taken for each other's, so nothing is written, adopted or collected in this zone; "+
		"give one installation another --cluster-name, or delete the stale TXT record %s if that installation is gone",
		e.Zone, e.Cluster, strings.Join(e.Others, ", "), e.Instance, e.Cluster, ClusterMarkerName(e.Zone))
}

// Is makes errors.Is(err, ErrClusterNameConflict) true.
func (e *ClusterNameConflictError) Is(target error) bool { return target == ErrClusterNameConflict }

// MarkZone makes sure the zone holds this installation's marker, and
// reports a *ClusterNameConflictError when it also holds another's of the
// same cluster name. It writes its own marker even then, so the other
// installation finds the conflict too. It works on every Provider: markers
// are ordinary records.
func MarkZone(ctx context.Context, p Provider, zone Zone, cluster, instance string) error {
	name, comment := ClusterMarkerName(zone.Name), ClusterMarkerComment(cluster)
	recs, err := p.Records(ctx, zone.ID, RecordFilter{Name: name, Type: "TXT", Owner: comment})
	if err != nil {
		return fmt.Errorf("reading the cluster markers at %s: %w", name, err)
	}
	mine := false
	var others []string
	for _, r := range recs {
		id := markerInstance(r.Content)
		if id == instance {
			mine = true
		} else if !slices.Contains(others, id) {
			others = append(others, id)
		}
	}
	var werr error
	if !mine {
		_, werr = p.ApplyChanges(ctx, zone.ID, Changes{Create: []Record{{
			Name: name, Type: "TXT", Content: ClusterMarkerContent(instance), TTL: ClusterMarkerTTL, Comment: comment,
		}}})
		if werr != nil {
			werr = fmt.Errorf("writing the cluster marker at %s: %w", name, werr)
		}
	}
	if len(others) > 0 {
		slices.Sort(others)
		return &ClusterNameConflictError{Zone: NormalizeName(zone.Name), Cluster: cluster, Instance: instance, Others: others}
	}
	return werr
}

// markerInstance is the instance ID a marker's text carries; the text
// itself (quoted) when it is not one, which is never a real ID.
func markerInstance(content string) string {
	s := strings.Join(TXTStrings(content), "")
	if id, ok := strings.CutPrefix(s, clusterMarkerContent); ok && id != "" {
		return id
	}
	return fmt.Sprintf("%q", s)
}
