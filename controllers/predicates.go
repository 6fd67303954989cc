package controllers

import (
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

// scopeUpdates passes the DNSScope updates its dependents (claims,
// credentials, gateway keys) act on. The scope controller rewrites the
// status counts as claims come and go; passing those would re-enqueue every
// claim and credential of the scope on each count, which at a thousand
// namespaces made most of the reconciles (see docs/benchmarks.md).
var scopeUpdates = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*v1alpha1.DNSScope)
	n, ok2 := e.ObjectNew.(*v1alpha1.DNSScope)
	return !ok1 || !ok2 || scopeChangeMatters(o, n)
}}

// scopeChangeMatters reports whether anything but the status counts changed
// between two versions of a scope.
func scopeChangeMatters(o, n *v1alpha1.DNSScope) bool {
	if o.Generation != n.Generation || !o.DeletionTimestamp.Equal(n.DeletionTimestamp) {
		return true
	}
	os, ns := o.Status, n.Status
	os.Claims, os.Namespaces, ns.Claims, ns.Namespaces = 0, 0, 0, 0
	return !equality.Semantic.DeepEqual(os, ns)
}

// claimZoneUpdates passes the claim updates the credentials and gateway-key
// controllers act on: a changed spec, deletion, or a change of its labels
// and annotations (touching a claim is how a user asks for its credentials
// to be looked at now). Both decide from the verdict over the claims' specs
// and read no claim's status, so status patches are dropped: each new claim
// writes its status once, and passing that woke both controllers once more
// for every new namespace.
var claimZoneUpdates = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*v1alpha1.DNSRecordClaim)
	n, ok2 := e.ObjectNew.(*v1alpha1.DNSRecordClaim)
	return !ok1 || !ok2 || claimChangeMatters(o, n)
}}

// claimChangeMatters reports whether a claim changed in what it asks for.
func claimChangeMatters(o, n *v1alpha1.DNSRecordClaim) bool {
	return o.Generation != n.Generation ||
		!o.DeletionTimestamp.Equal(n.DeletionTimestamp) ||
		!equality.Semantic.DeepEqual(o.Labels, n.Labels) ||
		!equality.Semantic.DeepEqual(o.Annotations, n.Annotations)
}

// finalizersOrDeletionChanged passes updates that add or remove finalizers or
// start deletion, which change neither generation nor status.
var finalizersOrDeletionChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	if e.ObjectOld == nil || e.ObjectNew == nil {
		return true
	}
	return finalizersOrDeletionDiffer(e.ObjectOld, e.ObjectNew)
}}

func finalizersOrDeletionDiffer(old, cur client.Object) bool {
	return !equality.Semantic.DeepEqual(old.GetFinalizers(), cur.GetFinalizers()) ||
		!old.GetDeletionTimestamp().Equal(cur.GetDeletionTimestamp())
}

// moreThanStatus reports whether an update changed an object beyond its
// status and resourceVersion: its spec (generation), deletion, finalizers or
// labels.
func moreThanStatus(old, cur client.Object) bool {
	return old.GetGeneration() != cur.GetGeneration() || finalizersOrDeletionDiffer(old, cur) ||
		!equality.Semantic.DeepEqual(old.GetLabels(), cur.GetLabels())
}

// keysLetGo passes the claim events after which a claim may hold other keys:
// a deletion starting or done, a changed spec (the map function sees the old
// and the new claim), or a status that starts or stops refusing a key. The
// status is only a wake-up here, never an input: the verdict (policy.Decide)
// decides who holds what from specs, and a status that refuses a key is how
// the controller shows that the claim's own verdict changed (its scope
// narrowed, or an older claim turned valid). A new claim never takes a key
// from an older one, so creations are dropped.
var keysLetGo = predicate.Funcs{
	CreateFunc: func(event.CreateEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*v1alpha1.DNSRecordClaim)
		n, ok2 := e.ObjectNew.(*v1alpha1.DNSRecordClaim)
		if !ok1 || !ok2 {
			return true
		}
		return o.Generation != n.Generation || !o.DeletionTimestamp.Equal(n.DeletionTimestamp) ||
			!equality.Semantic.DeepEqual(refusedKeys(o), refusedKeys(n))
	},
	DeleteFunc:  func(event.DeleteEvent) bool { return true },
	GenericFunc: func(event.GenericEvent) bool { return false },
}

// refusedKeys are the keys a claim's status reports refused or in conflict.
func refusedKeys(c *v1alpha1.DNSRecordClaim) map[string]bool {
	out := map[string]bool{}
	for _, st := range c.Status.Records {
		if st.State == v1alpha1.RecordRefused || st.State == v1alpha1.RecordConflict {
			out[st.Name+" "+string(st.Type)] = true
		}
	}
	return out
}
