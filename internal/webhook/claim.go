// Package webhook holds the validating admission webhooks for DNSScope and
// DNSRecordClaim. They answer from the manager's cache and the pure grant
// engine only: no provider call ever sits on the admission path.
package webhook

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/policy"
)

// The matchConditions patch keeps the API server from calling the webhook on
// updates ValidateUpdate would pass anyway (the spec unchanged, or the claim
// on its way out): the controller's finalizer update on every new claim, and
// tenants' label and annotation edits, cost no round trip.
// +kubebuilder:webhook:path=/validate-scopedns-io-v1alpha1-dnsrecordclaim,mutating=false,failurePolicy=fail,sideEffects=None,groups=scopedns.io,resources=dnsrecordclaims,verbs=create;update,versions=v1alpha1,name=vdnsrecordclaim.scopedns.io,admissionReviewVersions=v1,timeoutSeconds=5,patch=`{"matchConditions":[{"name":"spec-changed","expression":"request.operation != 'UPDATE' || !has(object.metadata.deletionTimestamp) && object.spec != oldObject.spec"}]}`

// ClaimValidator answers with the one verdict (policy.Decide): it refuses
// claims whose records lie outside their scope's grant for the claim's
// namespace, that hold records the provider would refuse together, or whose
// new keys collide with keys another namespace's claim holds.
type ClaimValidator struct {
	// Reader answers from the manager's cache; NameIndex and AncestorIndex
	// must be registered on it.
	Reader client.Reader
	// APIReader reads the API server directly. It is asked only when the
	// cache does not know a scope or namespace yet: GitOps tools apply a
	// namespace and its claims in one go, faster than the cache follows.
	APIReader client.Reader
	Policies  *policy.Cache
	// ConcealHolders words conflicts with another namespace's claim without
	// naming it (--conceal-conflict-holders); the holder goes to the
	// operator's log instead, through Holders (sampled by namespace).
	ConcealHolders bool
	Holders        *policy.HolderLog
}

var _ admission.Validator[*v1alpha1.DNSRecordClaim] = &ClaimValidator{}

// SetupClaimWebhook registers the claim webhook with the manager. With
// holders, conflicts with another namespace's claim are refused without
// naming it, and the holders go to that log.
func SetupClaimWebhook(mgr ctrl.Manager, policies *policy.Cache, holders *policy.HolderLog) error {
	return ctrl.NewWebhookManagedBy(mgr, &v1alpha1.DNSRecordClaim{}).
		WithValidator(&ClaimValidator{Reader: mgr.GetCache(), APIReader: mgr.GetAPIReader(), Policies: policies, ConcealHolders: holders != nil, Holders: holders}).
		WithLogConstructor(requestLogger(v1alpha1.GroupVersion.WithKind("DNSRecordClaim"))).
		Complete()
}

// ValidateCreate checks every record of a new claim.
func (v *ClaimValidator) ValidateCreate(ctx context.Context, claim *v1alpha1.DNSRecordClaim) (admission.Warnings, error) {
	return v.validate(ctx, nil, claim)
}

// ValidateUpdate checks every record of a claim whose spec changed. Conflicts
// are only checked for keys the update adds, so a claim that already holds a
// contested name (written while the webhook was off) can still be edited.
// Updates that leave the spec alone pass: the controller must be able to add
// its finalizer to a claim admitted while the webhook was off (or left
// outside its grant by a narrowed scope) to refuse it in status.
func (v *ClaimValidator) ValidateUpdate(ctx context.Context, oldClaim, claim *v1alpha1.DNSRecordClaim) (admission.Warnings, error) {
	if claim.DeletionTimestamp != nil {
		return nil, nil // finalizer removal and status-free edits on the way out
	}
	if equality.Semantic.DeepEqual(oldClaim.Spec, claim.Spec) {
		return nil, nil // finalizers, labels, annotations
	}
	return v.validate(ctx, oldClaim, claim)
}

// ValidateDelete allows every deletion.
func (v *ClaimValidator) ValidateDelete(context.Context, *v1alpha1.DNSRecordClaim) (admission.Warnings, error) {
	return nil, nil
}

func (v *ClaimValidator) validate(ctx context.Context, oldClaim, claim *v1alpha1.DNSRecordClaim) (admission.Warnings, error) {
	gk := v1alpha1.GroupVersion.WithKind("DNSRecordClaim").GroupKind()
	scopePath := field.NewPath("spec", "scopeName")

	var scope v1alpha1.DNSScope
	if err := v.get(ctx, client.ObjectKey{Name: claim.Spec.ScopeName}, &scope); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, apierrors.NewInvalid(gk, claim.Name, field.ErrorList{
				field.NotFound(scopePath, claim.Spec.ScopeName)})
		}
		return nil, fmt.Errorf("reading DNSScope %q: %w", claim.Spec.ScopeName, err)
	}
	var ns corev1.Namespace
	if err := v.get(ctx, client.ObjectKey{Name: claim.Namespace}, &ns); err != nil {
		return nil, fmt.Errorf("reading namespace %q: %w", claim.Namespace, err)
	}

	verdict, err := policy.Decide(ctx, policy.Input{
		Claim: claim, Scope: &scope, NamespaceLabels: ns.Labels,
		Contest: policy.OtherNamespaces, Old: oldClaim,
		Cluster: policy.Indexed{Reader: v.Reader}, Policies: v.Policies,
		ConcealHolders: v.ConcealHolders,
	})
	if err != nil {
		return nil, err
	}
	if v.ConcealHolders {
		v.Holders.Log(log.FromContext(ctx), claim, verdict)
	}
	var warnings admission.Warnings
	for _, rv := range verdict.Records {
		if rv.Allowed && rv.Match.Broad {
			warnings = append(warnings, fmt.Sprintf("spec.records[%d]: %s %s is allowed by a broad rule of DNSScope %q that covers the whole zone %s",
				rv.Index, rv.Key.Name, rv.Key.Type, scope.Name, rv.Match.Zone))
		}
	}
	if verdict.Accepted {
		return warnings, nil
	}
	var errs field.ErrorList
	for _, rv := range verdict.Records {
		if rv.Cause {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "records").Index(rv.Index), rv.Message))
		}
	}
	switch {
	case len(errs) > 0:
	case verdict.Reason == v1alpha1.ReasonOutsideGrant:
		// Refused as a whole with no record to blame: the scope is invalid.
		errs = field.ErrorList{field.Invalid(scopePath, claim.Spec.ScopeName, verdict.Message)}
	default:
		errs = field.ErrorList{field.Forbidden(scopePath, verdict.Message)}
	}
	return warnings, apierrors.NewInvalid(gk, claim.Name, errs)
}

// get reads from the cache, and from the API server when the cache has not
// seen the object yet.
func (v *ClaimValidator) get(ctx context.Context, key client.ObjectKey, obj client.Object) error {
	err := v.Reader.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) && v.APIReader != nil {
		return v.APIReader.Get(ctx, key, obj)
	}
	return err
}
