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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/grant"
	"github.com/scopedns/scopedns/internal/policy"
)

// +kubebuilder:webhook:path=/validate-scopedns-io-v1alpha1-dnsrecordclaim,mutating=false,failurePolicy=fail,sideEffects=None,groups=scopedns.io,resources=dnsrecordclaims,verbs=create;update,versions=v1alpha1,name=vdnsrecordclaim.scopedns.io,admissionReviewVersions=v1,timeoutSeconds=5

// ClaimValidator refuses claims whose records lie outside their scope's grant
// for the claim's namespace, or that collide with another namespace's claim.
type ClaimValidator struct {
	// Reader answers from the manager's cache; NameIndex and AncestorIndex
	// must be registered on it.
	Reader client.Reader
	// APIReader reads the API server directly. It is asked only when the
	// cache does not know a scope or namespace yet: GitOps tools apply a
	// namespace and its claims in one go, faster than the cache follows.
	APIReader client.Reader
	Policies  *policy.Cache
}

var _ admission.Validator[*v1alpha1.DNSRecordClaim] = &ClaimValidator{}

// SetupClaimWebhook registers the claim webhook with the manager.
func SetupClaimWebhook(mgr ctrl.Manager, policies *policy.Cache) error {
	return ctrl.NewWebhookManagedBy(mgr, &v1alpha1.DNSRecordClaim{}).
		WithValidator(&ClaimValidator{Reader: mgr.GetCache(), APIReader: mgr.GetAPIReader(), Policies: policies}).
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
	selected, err := policy.Selects(&scope, ns.Labels)
	if err != nil {
		return nil, err
	}
	if !selected {
		return nil, apierrors.NewInvalid(gk, claim.Name, field.ErrorList{field.Forbidden(scopePath,
			fmt.Sprintf("DNSScope %q does not grant names to namespace %q: its namespaceSelector %s does not select the namespace",
				scope.Name, claim.Namespace, selectorString(&scope)))})
	}

	compiled, err := v.Policies.Compile(&scope)
	if err != nil {
		return nil, apierrors.NewInvalid(gk, claim.Name, field.ErrorList{field.Invalid(scopePath, claim.Spec.ScopeName,
			fmt.Sprintf("DNSScope %q is invalid and grants nothing: %v", scope.Name, err))})
	}

	decisions := policy.CheckClaim(compiled, claim.Namespace, claim)
	errs := policy.Denials(decisions)
	var warnings admission.Warnings
	for _, d := range decisions {
		if d.Err == nil && d.Match.Broad {
			warnings = append(warnings, fmt.Sprintf("spec.records[%d]: %s %s is allowed by a broad rule of DNSScope %q that covers the whole zone %s",
				d.Index, d.Key.Name, d.Key.Type, scope.Name, d.Match.Zone))
		}
	}

	conflictErrs, err := v.conflicts(ctx, oldClaim, claim)
	if err != nil {
		return warnings, err
	}
	errs = append(errs, conflictErrs...)
	if len(errs) > 0 {
		return warnings, apierrors.NewInvalid(gk, claim.Name, errs)
	}
	return warnings, nil
}

// conflicts looks up the claims that may hold a key conflicting with each
// claimed key (at its name, an NS above it, and for an NS every name below
// it) and refuses keys that another namespace's claim already holds.
func (v *ClaimValidator) conflicts(ctx context.Context, oldClaim, claim *v1alpha1.DNSRecordClaim) (field.ErrorList, error) {
	had := map[grant.Key]bool{}
	if oldClaim != nil {
		for _, k := range policy.Keys(oldClaim) {
			had[k] = true
		}
	}
	var errs field.ErrorList
	seen := map[grant.Key]bool{}
	for i, r := range claim.Spec.Records {
		name, err := grant.NormalizeName(r.Name)
		key := grant.Key{Name: name, Type: string(r.Type)}
		if err != nil || seen[key] {
			continue
		}
		seen[key] = true
		if had[key] {
			continue
		}
		holders, err := policy.ListHolders(ctx, v.Reader, policy.HolderLookups(key))
		if err != nil {
			return nil, err
		}
		single := claim.DeepCopy()
		single.Spec.Records = []v1alpha1.RecordSpec{r}
		for _, c := range policy.FindConflicts(single, holders, func(o *v1alpha1.DNSRecordClaim) bool {
			return o.Namespace != claim.Namespace
		}) {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "records").Index(i), conflictMessage(c)))
		}
	}
	return errs, nil
}

func conflictMessage(c policy.Conflict) string {
	const delegates = "an NS delegates its name and every name below it away"
	switch c.Relation() {
	case policy.BelowDelegation:
		return fmt.Sprintf("%s %s lies below NS %s already claimed by namespace %q (DNSRecordClaim %q); %s",
			c.Key.Name, c.Key.Type, c.HolderKey.Name, c.Holder.Namespace, c.Holder.Name, delegates)
	case policy.AboveHolder:
		return fmt.Sprintf("%s NS would delegate away %s %s already claimed by namespace %q (DNSRecordClaim %q); %s",
			c.Key.Name, c.HolderKey.Name, c.HolderKey.Type, c.Holder.Namespace, c.Holder.Name, delegates)
	default:
		return fmt.Sprintf("%s %s conflicts with %s %s already claimed by namespace %q (DNSRecordClaim %q); a name and type belong to one claim, and a CNAME excludes every other type at its name",
			c.Key.Name, c.Key.Type, c.HolderKey.Name, c.HolderKey.Type, c.Holder.Namespace, c.Holder.Name)
	}
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

func selectorString(scope *v1alpha1.DNSScope) string {
	s := metav1.FormatLabelSelector(&scope.Spec.NamespaceSelector)
	if s == "" || s == "<none>" {
		return "{}"
	}
	return "{" + s + "}"
}
