package webhook

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
	// Reader lists the other scopes, for warnings that compare them
	// (secretNameWarnings); nil skips those.
	Reader client.Reader
}

var _ admission.Validator[*v1alpha1.DNSScope] = &ScopeValidator{}

// SetupScopeWebhook registers the scope webhook with the manager.
func SetupScopeWebhook(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &v1alpha1.DNSScope{}).
		WithValidator(&ScopeValidator{Reader: mgr.GetClient()}).
		WithLogConstructor(requestLogger(v1alpha1.GroupVersion.WithKind("DNSScope"))).
		Complete()
}

// ValidateCreate checks a new scope.
func (v *ScopeValidator) ValidateCreate(ctx context.Context, scope *v1alpha1.DNSScope) (admission.Warnings, error) {
	return v.withSecretNameWarnings(ctx, scope)(v.validate(scope))
}

// ValidateUpdate checks a changed scope.
func (v *ScopeValidator) ValidateUpdate(ctx context.Context, _, scope *v1alpha1.DNSScope) (admission.Warnings, error) {
	return v.withSecretNameWarnings(ctx, scope)(v.validate(scope))
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
		if !selectsAtMostOne(scope.Spec.NamespaceSelector) {
			warnings = append(warnings, sharedZoneWarnings(scope, compiled)...)
			oerrs, owarn := overlapFindings(scope, compiled)
			errs, warnings = append(errs, oerrs...), append(warnings, owarn...)
		}
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
	errs = append(errs, frontDoorToggleErrors(creds, c)...)
	if scope.Spec.Provider.RFC2136 != nil && c.ProviderTokenEnabled() {
		// The CRD's CEL rule says the same; this names the field for
		// objects the scope controller checks again.
		errs = append(errs, field.Invalid(creds.Child("providerToken", "enabled"), true,
			"must be false with spec.provider.rfc2136 (set providerToken: {enabled: false}): an RFC 2136 server has no API tokens to mint; credentials.rfc2136 (the gateway's TSIG keys) and the front doors are the tenants' credentials"))
	}
	if !c.ProviderTokenEnabled() && !c.RFC2136Enabled() {
		warnings = append(warnings, "spec.credentials: neither providerToken nor rfc2136 is enabled; namespaces get records but no credentials")
	}
	return errs, warnings
}

// frontDoorToggleErrors refuses an HTTP front-door credential without
// rfc2136: its passwords are derived from the namespace's TSIG secret, which
// exists only while rfc2136 is enabled (the CRD's CEL rule says the same for
// clients that skip the webhook).
func frontDoorToggleErrors(creds *field.Path, c *v1alpha1.CredentialsSpec) field.ErrorList {
	var errs field.ErrorList
	for _, t := range []struct {
		name   string
		toggle *v1alpha1.CredentialToggle
	}{{"acmeDNS", c.ACMEDNS}, {"dynDNS", c.DynDNS}, {"cloudflareAPI", c.CloudflareAPI}} {
		if t.toggle != nil && t.toggle.Enabled && !c.RFC2136Enabled() {
			errs = append(errs, field.Invalid(creds.Child(t.name, "enabled"), true,
				t.name+" needs spec.credentials.rfc2136.enabled: its passwords are derived from the namespace's RFC 2136 key"))
		}
	}
	return errs
}

// MetadataNameLabel is the label Kubernetes puts on every namespace with its
// own name, the one way a selector can pin a single namespace.
const MetadataNameLabel = "kubernetes.io/metadata.name"

// selectsAtMostOne reports whether the selector can select one namespace at
// most, whatever labels namespaces get later: it pins the name label.
func selectsAtMostOne(sel metav1.LabelSelector) bool {
	if _, ok := sel.MatchLabels[MetadataNameLabel]; ok {
		return true
	}
	for _, e := range sel.MatchExpressions {
		if e.Key == MetadataNameLabel && e.Operator == metav1.LabelSelectorOpIn && len(e.Values) <= 1 {
			return true
		}
	}
	return false
}

// maxListed caps the zones and overlaps one message lists.
const maxListed = 5

// sharedZoneWarnings says out loud what a provider token is worth when
// several namespaces may hold names in its zone: Cloudflare scopes tokens by
// zone, never by name, so every holder can write every other's records.
func sharedZoneWarnings(scope *v1alpha1.DNSScope, compiled *grant.Compiled) admission.Warnings {
	if !scope.Spec.Credentials.ProviderTokenEnabled() {
		return nil
	}
	var zones []string
	for i, shared := range compiled.Shareable() {
		if shared {
			zones = append(zones, fmt.Sprintf("%q", compiled.Zones()[i]))
		}
	}
	if len(zones) == 0 {
		return nil
	}
	return admission.Warnings{fmt.Sprintf("spec.credentials.providerToken is enabled for zones that several selected namespaces may claim names in (%s): "+
		"Cloudflare tokens are zone-wide, so each namespace's token can write every name of those zones, other namespaces' records included; "+
		"use rfc2136 credentials (keys limited to the exact claimed names) for shared zones (docs/security-model.md)", listCapped(zones, maxListed))}
}

// overlapFindings reports rule names whose expansions meet for two
// namespaces: warnings, or errors under spec.strictTemplates.
func overlapFindings(scope *v1alpha1.DNSScope, compiled *grant.Compiled) (field.ErrorList, admission.Warnings) {
	strict := scope.Spec.StrictTemplates
	overlaps, complete := compiled.Overlaps(maxListed + 1)
	var errs field.ErrorList
	var warnings admission.Warnings
	for i, o := range overlaps {
		if i == maxListed {
			warnings = append(warnings, "more rule names overlap across namespaces than are listed")
			break
		}
		if strict {
			errs = append(errs, field.Forbidden(fieldPath(o.A), o.String()+" (spec.strictTemplates is true)"))
		} else {
			warnings = append(warnings, o.String()+"; spec.strictTemplates: true refuses such a scope")
		}
	}
	if !complete {
		msg := "the scope has too many name patterns to check that no two namespaces' grants overlap; split it into several scopes"
		if strict {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "strictTemplates"), msg))
		} else {
			warnings = append(warnings, "spec.zones: "+msg)
		}
	}
	return errs, warnings
}

func fieldPath(r grant.PatternRef) *field.Path {
	return field.NewPath("spec", "zones").Index(r.Zone).Child("rules").Index(r.Rule).Child("names").Index(r.Name)
}

func listCapped(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}
