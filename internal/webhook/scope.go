package webhook

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/grant"
	"github.com/scopedns/scopedns/internal/policy"
	"github.com/scopedns/scopedns/internal/rotation"
)

// +kubebuilder:webhook:path=/validate-scopedns-io-v1alpha1-dnsscope,mutating=false,failurePolicy=fail,sideEffects=None,groups=scopedns.io,resources=dnsscopes,verbs=create;update,versions=v1alpha1,name=vdnsscope.scopedns.io,admissionReviewVersions=v1,timeoutSeconds=5

// ScopeValidator checks what CEL cannot: the grant patterns, the rotation
// schedule, and that token expiry outlasts the longest rotation gap.
type ScopeValidator struct {
	// Now is the clock used to measure cron gaps; time.Now when nil.
	Now func() time.Time
}

var _ admission.Validator[*v1alpha1.DNSScope] = &ScopeValidator{}

// SetupScopeWebhook registers the scope webhook with the manager.
func SetupScopeWebhook(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &v1alpha1.DNSScope{}).
		WithValidator(&ScopeValidator{}).
		Complete()
}

// ValidateCreate checks a new scope.
func (v *ScopeValidator) ValidateCreate(_ context.Context, scope *v1alpha1.DNSScope) (admission.Warnings, error) {
	return v.validate(scope)
}

// ValidateUpdate checks a changed scope.
func (v *ScopeValidator) ValidateUpdate(_ context.Context, _, scope *v1alpha1.DNSScope) (admission.Warnings, error) {
	return v.validate(scope)
}

// ValidateDelete allows every deletion; the controllers revoke what it granted.
func (v *ScopeValidator) ValidateDelete(context.Context, *v1alpha1.DNSScope) (admission.Warnings, error) {
	return nil, nil
}

func (v *ScopeValidator) validate(scope *v1alpha1.DNSScope) (admission.Warnings, error) {
	gk := v1alpha1.GroupVersion.WithKind("DNSScope").GroupKind()
	errs, warnings := ValidateScopeSpec(scope, v.now())
	if len(errs) > 0 {
		return warnings, apierrors.NewInvalid(gk, scope.Name, errs)
	}
	return warnings, nil
}

func (v *ScopeValidator) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// ValidateScopeSpec returns the field errors and warnings of a scope. The
// controller calls it too, so a scope written past a disabled webhook is
// reported instead of acted on.
func ValidateScopeSpec(scope *v1alpha1.DNSScope, now time.Time) (field.ErrorList, admission.Warnings) {
	var errs field.ErrorList
	var warnings admission.Warnings
	spec := field.NewPath("spec")

	if _, err := metav1.LabelSelectorAsSelector(&scope.Spec.NamespaceSelector); err != nil {
		errs = append(errs, field.Invalid(spec.Child("namespaceSelector"), scope.Spec.NamespaceSelector, err.Error()))
	} else if len(scope.Spec.NamespaceSelector.MatchLabels) == 0 && len(scope.Spec.NamespaceSelector.MatchExpressions) == 0 {
		warnings = append(warnings, "spec.namespaceSelector is {}: every namespace of the cluster may claim names under this scope")
	}

	compiled, err := grant.Compile(policy.FromScope(scope))
	if err != nil {
		errs = append(errs, field.Invalid(spec.Child("zones"), "", err.Error()))
	} else {
		warnings = append(warnings, compiled.Warnings()...)
	}

	creds := spec.Child("credentials")
	c := &scope.Spec.Credentials
	sched, err := rotation.Parse(c.RotationSchedule())
	if err != nil {
		errs = append(errs, field.Invalid(creds.Child("rotation", "schedule"), c.RotationSchedule(), err.Error()))
	} else {
		period := sched.LongestPeriod(now)
		if need := period + c.RotationOverlap(); c.TokenLifetime() <= need {
			errs = append(errs, field.Invalid(creds.Child("expireAfter"), c.TokenLifetime().String(),
				fmt.Sprintf("must be longer than the longest rotation period of %q (%s) plus overlap (%s) = %s, or tokens expire before their successor is written",
					c.RotationSchedule(), period, c.RotationOverlap(), need)))
		}
	}
	if !c.ProviderTokenEnabled() && !c.RFC2136Enabled() {
		warnings = append(warnings, "spec.credentials: neither providerToken nor rfc2136 is enabled; namespaces get records but no credentials")
	}
	return errs, warnings
}
