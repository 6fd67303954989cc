package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Condition types and reasons of a DNSCredential. docs/troubleshooting.md
// explains each one.
const (
	// ConditionQuotaExceeded is true while a mint or rotation waits because
	// it would take the cluster past the provider's token quota.
	ConditionQuotaExceeded = "QuotaExceeded"
	// ConditionRevocationPending is true while a token that should be gone
	// is not yet revoked at the provider.
	ConditionRevocationPending = "RevocationPending"
	// ConditionFrontDoorsReady is set while the scope enables acmeDNS or
	// dynDNS: true when the logins are served and delivered in the Secret,
	// false (ReasonHTTPGatewayNotConfigured) when the manager runs without
	// the HTTP front door or without the URL tenants reach it at.
	ConditionFrontDoorsReady = "FrontDoorsReady"
	// ReasonFrontDoorsServed is FrontDoorsReady's true reason.
	ReasonFrontDoorsServed = "Served"
	// ReasonHTTPGatewayNotConfigured: the scope enables acmeDNS or dynDNS,
	// and the manager has no --http-gateway-addr or no --http-gateway-url;
	// the message names the missing flag. No front-door keys are delivered
	// meanwhile (a login nothing serves would only fail later).
	ReasonHTTPGatewayNotConfigured = "HTTPGatewayNotConfigured"

	// ReasonSecretNotOwned: a Secret of the credentials' name exists in the
	// tenant namespace and the operator did not create it; it is neither
	// adopted nor overwritten.
	ReasonSecretNotOwned = "SecretNotOwned"
	// ReasonSecretNameConflict: another DNSScope's credentials for the same
	// namespace would be written to the same Secret name, and that scope's
	// DNSCredential came first (older, ties by name); the message names it.
	// This credential mints nothing and writes no Secret until the name is
	// free, so the two never overwrite each other.
	ReasonSecretNameConflict = "SecretNameConflict"
	// ReasonTokenNotOwned: a token ID the operator was about to revoke or
	// re-scope names, at the provider, a token of another cluster, scope or
	// namespace (or none it minted); it is left alone.
	ReasonTokenNotOwned = "TokenNotOwned"
	// ReasonWithinQuota and ReasonRevoked are the False reasons of
	// QuotaExceeded and RevocationPending.
	ReasonWithinQuota = "WithinQuota"
	ReasonRevoked     = "NothingPending"
	// ReasonScopeGone: the DNSScope of the credential is gone, so its
	// tokens cannot be revoked until it comes back.
	ReasonScopeGone = "ScopeGone"
)

// DNSCredentialSpec names the namespace and scope a credential is for. The
// operator writes it when it creates the object; it never changes.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable"
type DNSCredentialSpec struct {
	// scopeName is the DNSScope the credential was issued under.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ScopeName string `json:"scopeName"`

	// namespace is the tenant namespace the credential is delivered to.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`
}

// HeldToken is a provider token the operator minted and still holds. It
// carries no value: values live in the operator's own namespace.
type HeldToken struct {
	// id is the provider's token ID.
	// +required
	// +kubebuilder:validation:MaxLength=256
	ID string `json:"id"`

	// name is the token's deterministic name (scopedns/<cluster>/<scope>/<namespace>/<serial>).
	// +required
	// +kubebuilder:validation:MaxLength=256
	Name string `json:"name"`

	// zoneIDs are the zones the token may act on, sorted.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MaxLength=64
	ZoneIDs []string `json:"zoneIDs,omitempty"`

	// expiresAt is the token's provider-side hard expiry.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// revokeAt is when a rotated-out token is revoked (the end of the overlap).
	// +optional
	RevokeAt *metav1.Time `json:"revokeAt,omitempty"`
}

// TSIGKeyStatus is the namespace's TSIG key for the RFC 2136 gateway.
type TSIGKeyStatus struct {
	// keyName is the TSIG key name clients send.
	// +required
	// +kubebuilder:validation:MaxLength=253
	KeyName string `json:"keyName"`

	// generation counts the key's secrets: 1 for the first, one more per rotation.
	// +optional
	Generation int64 `json:"generation,omitempty"`

	// previousValidUntil is when the rotated-out secret stops working; unset
	// when there is none. The gateway accepts no previous secret past it.
	// +optional
	PreviousValidUntil *metav1.Time `json:"previousValidUntil,omitempty"`
}

// DNSCredentialStatus is the operator's record of what it issued. It is the
// only place the operator reads its own state from: tenants can write every
// Secret in their namespace, but have no RBAC on DNSCredentials.
type DNSCredentialStatus struct {
	// observedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// kinds lists the credentials delivered, e.g. "token,tsig".
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Kinds string `json:"kinds,omitempty"`

	// zones is how many zones the current provider token is scoped to.
	// +optional
	Zones int32 `json:"zones,omitempty"`

	// token is the current provider token.
	// +optional
	Token *HeldToken `json:"token,omitempty"`

	// previousToken is the rotated-out token, revoked at its revokeAt.
	// +optional
	PreviousToken *HeldToken `json:"previousToken,omitempty"`

	// minting names a token whose mint was started and not yet recorded. It
	// is written before the mint call, so a crash in between leaves a name
	// to revoke instead of an unknown token.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Minting string `json:"minting,omitempty"`

	// nextRotation is when the credentials rotate next.
	// +optional
	NextRotation *metav1.Time `json:"nextRotation,omitempty"`

	// tsig is the RFC 2136 gateway key, when the scope hands one out.
	// +optional
	TSIG *TSIGKeyStatus `json:"tsig,omitempty"`

	// secretName is the tenant Secret the credentials are delivered in.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	SecretName string `json:"secretName,omitempty"`

	// secretUID is the UID of the tenant Secret the operator created. A
	// Secret of that name with another UID is someone else's and is never
	// adopted or overwritten.
	// +optional
	SecretUID types.UID `json:"secretUID,omitempty"`

	// secretCreation is the one-time nonce the create of the tenant Secret
	// whose UID is recorded put on it. The nonce of a create is on record in
	// the operator's vault Secret before the create, so that a crash between
	// the create and the recording of its UID does not leave the operator's
	// own Secret looking foreign; once recorded here, only the UID counts.
	// Earlier releases wrote it here before the create.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	SecretCreation string `json:"secretCreation,omitempty"`

	// conditions: Ready, QuotaExceeded, RevocationPending.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// DNSCredential is the operator's own record of the credentials of one
// namespace under one scope, named <scope>.<namespace>. The operator creates,
// updates and deletes it; tenants have no RBAC on it.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=dnscred;dcred,categories=scopedns
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.spec.namespace`
// +kubebuilder:printcolumn:name="Scope",type=string,JSONPath=`.spec.scopeName`
// +kubebuilder:printcolumn:name="Kinds",type=string,JSONPath=`.status.kinds`
// +kubebuilder:printcolumn:name="Zones",type=integer,JSONPath=`.status.zones`,description="zones the current token is scoped to"
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.token.expiresAt`,description="when the current token expires at the provider"
// +kubebuilder:printcolumn:name="Next Rotation",type=string,JSONPath=`.status.nextRotation`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DNSCredential struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec names the scope and namespace.
	// +required
	Spec DNSCredentialSpec `json:"spec"`

	// status is what the operator issued.
	// +optional
	Status DNSCredentialStatus `json:"status,omitzero"`
}

// DNSCredentialList is a list of DNSCredential.
// +kubebuilder:object:root=true
type DNSCredentialList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DNSCredential `json:"items"`
}

// DNSCredentialName is the name of the DNSCredential of a namespace under a
// scope. Namespaces are DNS labels and scopes DNS subdomains, so the name
// is a valid object name and tells both apart at the first dot after the scope
// (a scope name may hold dots; a namespace may not).
func DNSCredentialName(scope, namespace string) string { return scope + "." + namespace }

func init() {
	SchemeBuilder.Register(&DNSCredential{}, &DNSCredentialList{})
}
