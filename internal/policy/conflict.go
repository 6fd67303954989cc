package policy

import (
	"strings"

	"k8s.io/apimachinery/pkg/types"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/grant"
)

// Conflict is a key a claim asks for that another claim holds.
type Conflict struct {
	Key    grant.Key
	Holder types.NamespacedName
	// HolderKey is the key the holder claims; it differs from Key when a
	// CNAME collides with another type at the same name.
	HolderKey grant.Key
}

// Relation is where a conflict's key stands to the key its holder claims.
type Relation int

const (
	// SameName: both keys are at one name (one record set, or a CNAME or NS
	// beside another type).
	SameName Relation = iota
	// BelowDelegation: the key lies below the holder's NS, which occludes it.
	BelowDelegation
	// AboveHolder: the key is an NS whose delegation would occlude the
	// holder's name below it.
	AboveHolder
)

// Relation tells a delegation above or below the key from a conflict at its
// own name. The keys are normalised, as Keys returns them.
func (c Conflict) Relation() Relation {
	switch {
	case c.Key.Name == c.HolderKey.Name:
		return SameName
	case strings.HasSuffix(c.Key.Name, "."+c.HolderKey.Name):
		return BelowDelegation
	default:
		return AboveHolder
	}
}

// Older reports whether claim a wins over claim b: the older claim wins, and
// equal creation times are broken by namespace/name so every replica and
// every reconcile decides the same way.
func Older(a, b *v1alpha1.DNSRecordClaim) bool {
	ta, tb := a.CreationTimestamp, b.CreationTimestamp
	if !ta.Equal(&tb) {
		return ta.Before(&tb)
	}
	return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
}

// FindConflicts returns the keys of claim that collide with the keys the
// others ask for in their specs. The claim itself (same namespace and name)
// is skipped, and so are claims being deleted. When only is not nil it
// decides which others count. It says nothing of whether an other holds its
// key: that is the verdict's (Decide); this is for waking claims up.
func FindConflicts(claim *v1alpha1.DNSRecordClaim, others []v1alpha1.DNSRecordClaim, only func(other *v1alpha1.DNSRecordClaim) bool) []Conflict {
	mine := Keys(claim)
	var out []Conflict
	for i := range others {
		o := &others[i]
		if sameClaim(o, claim) || o.DeletionTimestamp != nil {
			continue // a claim on its way out gives its names up
		}
		if only != nil && !only(o) {
			continue
		}
		theirs := Keys(o)
		for _, k := range mine {
			for _, t := range theirs {
				if grant.Conflicts(k, t) {
					out = append(out, Conflict{Key: k, Holder: types.NamespacedName{Namespace: o.Namespace, Name: o.Name}, HolderKey: t})
				}
			}
		}
	}
	return out
}
