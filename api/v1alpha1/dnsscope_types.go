package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DNSScopeSpec is an admin's grant: which namespaces may claim which names.
// +kubebuilder:validation:XValidation:rule="!has(self.provider.rfc2136) || (has(self.credentials) && has(self.credentials.providerToken) && !self.credentials.providerToken.enabled)",message="spec.credentials.providerToken.enabled must be false with spec.provider.rfc2136 (set providerToken: {enabled: false}): an RFC 2136 server has no API tokens to mint; credentials.rfc2136 (the gateway's TSIG keys) and the front doors are the tenants' credentials"
type DNSScopeSpec struct {
	// provider is the DNS provider that holds the zones, and the master
	// credential the operator uses to write records and mint tokens.
	// +required
	Provider ProviderSpec `json:"provider"`

	// namespaceSelector selects the namespaces this scope serves. It is required
	// so that a grant to every namespace is always written on purpose: `{}`.
	// +required
	NamespaceSelector metav1.LabelSelector `json:"namespaceSelector"`

	// zones lists the zones of this scope and, per zone, the rules that say
	// which names, types and TTLs a selected namespace may claim.
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	Zones []ZoneGrant `json:"zones"`

	// credentials says which credentials each namespace gets and how they rotate.
	// +optional
	// +kubebuilder:default={providerToken: {enabled: true}, rotation: {schedule: "@every 720h", overlap: "1h"}, expireAfter: "768h"}
	Credentials CredentialsSpec `json:"credentials,omitzero"`

	// strictTemplates refuses, instead of warning about, rule names whose
	// expansions can meet for two different namespaces: with
	// "{namespace}.apps.example.com" and "*.{namespace}.example.com", a
	// namespace named "apps" would be granted every other namespace's base name.
	// +optional
	StrictTemplates bool `json:"strictTemplates,omitempty"`
}

// ProviderSpec selects exactly one DNS provider.
// +kubebuilder:validation:XValidation:rule="[has(self.cloudflare), has(self.rfc2136)].filter(x, x).size() == 1",message="exactly one provider must be set: cloudflare or rfc2136"
type ProviderSpec struct {
	// cloudflare holds the zones in a Cloudflare account.
	// +optional
	Cloudflare *CloudflareProvider `json:"cloudflare,omitempty"`

	// rfc2136 holds the zones on a self-hosted authoritative server (BIND,
	// Knot, PowerDNS, Windows DNS) that takes TSIG-signed dynamic updates and
	// zone transfers. It mints no provider tokens: the gateway's TSIG keys and
	// the front doors are the tenants' credentials.
	// +optional
	RFC2136 *RFC2136Provider `json:"rfc2136,omitempty"`
}

// TSIG algorithms an rfc2136 provider accepts. MD5 and SHA-1 are not offered.
const (
	TSIGAlgorithmHMACSHA256 = "HMACSHA256"
	TSIGAlgorithmHMACSHA512 = "HMACSHA512"
)

// RFC2136Provider is a primary name server and the master TSIG key the
// operator writes with.
type RFC2136Provider struct {
	// server is the primary's address, host:port: SOA queries and UPDATEs go
	// there.
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=261
	// +kubebuilder:validation:Pattern=`^([^:\[\]/\s]+|\[[0-9a-fA-F:.]+\]):[0-9]{1,5}$`
	Server string `json:"server"`

	// transfer is where zone transfers (AXFR) are read from, host:port; the
	// server when unset. A secondary near the operator can serve them.
	// +optional
	// +kubebuilder:validation:MaxLength=261
	// +kubebuilder:validation:Pattern=`^([^:\[\]/\s]+|\[[0-9a-fA-F:.]+\]):[0-9]{1,5}$`
	Transfer string `json:"transfer,omitempty"`

	// tsigKeyName is the master key's name, as the server knows it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?\.?$`
	TSIGKeyName string `json:"tsigKeyName"`

	// tsigKeySecretRef names the master key's base64 secret. The Secret is
	// read only from the operator's own namespace, never from a tenant's. The
	// key needs update rights on the scope's zones (BIND update-policy "grant
	// <key> zonesub ANY;", Knot ACL action update) and may transfer them (BIND
	// allow-transfer, Knot ACL action transfer).
	// +required
	TSIGKeySecretRef SecretKeySelector `json:"tsigKeySecretRef"`

	// tsigAlgorithm is the master key's algorithm.
	// +optional
	// +kubebuilder:default=HMACSHA256
	// +kubebuilder:validation:Enum=HMACSHA256;HMACSHA512
	TSIGAlgorithm string `json:"tsigAlgorithm,omitempty"`
}

// CloudflareProvider is a Cloudflare account and its master API token.
type CloudflareProvider struct {
	// accountID is the Cloudflare account that owns the zones and the minted tokens.
	// +required
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{32}$`
	AccountID string `json:"accountID"`

	// apiTokenSecretRef names the master API token. The Secret is read only from
	// the operator's own namespace, never from a tenant's. The token needs Zone
	// Read and DNS Write on the scope's zones, and Account API Tokens Write when
	// provider tokens are minted.
	// +required
	APITokenSecretRef SecretKeySelector `json:"apiTokenSecretRef"`

	// baseURL overrides the Cloudflare API address, for a proxy or the simulator.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://`
	BaseURL string `json:"baseURL,omitempty"`
}

// ZoneGrant is one zone and the rules that grant names inside it.
type ZoneGrant struct {
	// name is the zone's apex, e.g. example.com.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// rules grant names in this zone. A record is allowed when one rule's names,
	// types and maxTTL all allow it.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:XValidation:rule="self.all(r, self.filter(o, o == r).size() == 1)",message="rules must be unique"
	Rules []GrantRule `json:"rules"`
}

// GrantRule allows a set of name patterns with a set of types and a TTL ceiling.
type GrantRule struct {
	// names are patterns of names inside the zone: absolute names, where `*` is
	// exactly one label and `**` one or more labels (each only as a whole label),
	// and `{namespace}` expands to the claiming namespace.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	Names []string `json:"names"`

	// types are the record types this rule allows.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	Types []RecordType `json:"types"`

	// maxTTL is the largest TTL in seconds a claim may ask for. Unset means
	// the provider's maximum.
	// +optional
	// +kubebuilder:validation:Minimum=60
	// +kubebuilder:validation:Maximum=86400
	MaxTTL *int32 `json:"maxTTL,omitempty"`
}

// CredentialsSpec says which credentials each namespace gets and how they rotate.
// +kubebuilder:validation:XValidation:rule="!has(self.rotation) || !has(self.rotation.schedule) || !has(self.rotation.overlap) || !has(self.expireAfter) || !self.rotation.schedule.startsWith('@every ') || duration(self.expireAfter) > duration(self.rotation.schedule.substring(7)) + duration(self.rotation.overlap)",message="expireAfter must be longer than the rotation period plus overlap"
// +kubebuilder:validation:XValidation:rule="!has(self.rotation) || !has(self.rotation.overlap) || !has(self.expireAfter) || duration(self.expireAfter) > duration(self.rotation.overlap)",message="expireAfter must be longer than rotation.overlap"
// +kubebuilder:validation:XValidation:rule="!(has(self.acmeDNS) && self.acmeDNS.enabled) || (has(self.rfc2136) && self.rfc2136.enabled)",message="acmeDNS needs rfc2136 enabled: its passwords are derived from the namespace's RFC 2136 key"
// +kubebuilder:validation:XValidation:rule="!(has(self.dynDNS) && self.dynDNS.enabled) || (has(self.rfc2136) && self.rfc2136.enabled)",message="dynDNS needs rfc2136 enabled: its passwords are derived from the namespace's RFC 2136 key"
// +kubebuilder:validation:XValidation:rule="!(has(self.cloudflareAPI) && self.cloudflareAPI.enabled) || (has(self.rfc2136) && self.rfc2136.enabled)",message="cloudflareAPI needs rfc2136 enabled: its tokens are derived from the namespace's RFC 2136 key"
type CredentialsSpec struct {
	// secretName is the name of the credentials Secret written to each served
	// namespace. Defaults to "<scope>-dns-credentials".
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	SecretName string `json:"secretName,omitempty"`

	// providerToken mints a provider API token per namespace, limited to the
	// zones the namespace has claimed names in.
	// +optional
	// +kubebuilder:default={enabled: true}
	ProviderToken *CredentialToggle `json:"providerToken,omitempty"`

	// rfc2136 issues a TSIG key per namespace for the operator's RFC 2136
	// gateway, limited to the exact names and types the namespace claimed.
	// +optional
	// +kubebuilder:default={enabled: false}
	RFC2136 *CredentialToggle `json:"rfc2136,omitempty"`

	// acmeDNS gives each namespace an acme-dns account (cert-manager's
	// acmeDNS solver, lego, certbot, acme.sh) for every _acme-challenge TXT
	// name it reserved, served by the operator's HTTP front door
	// (--http-gateway-addr). The passwords are derived from the namespace's
	// RFC 2136 key, so rfc2136 must be enabled too; they rotate with it.
	// +optional
	// +kubebuilder:default={enabled: false}
	ACMEDNS *CredentialToggle `json:"acmeDNS,omitempty"`

	// dynDNS gives each namespace a dyndns2 login (ddclient, inadyn,
	// routers) for the A and AAAA names it reserved, served by the operator's
	// HTTP front door (--http-gateway-addr). The password is derived from
	// the namespace's RFC 2136 key, so rfc2136 must be enabled too; it
	// rotates with it.
	// +optional
	// +kubebuilder:default={enabled: false}
	DynDNS *CredentialToggle `json:"dynDNS,omitempty"`

	// cloudflareAPI gives each namespace a bearer token for the operator's
	// Cloudflare-compatible API (/client/v4/ on the HTTP front door), for
	// tools that speak only Cloudflare's API and take its base URL (lego,
	// Traefik and external-dns through CLOUDFLARE_BASE_URL, Terraform's
	// base_url, octodns's api_url, ddclient's server=). The token sees and
	// writes exactly the names and types the namespace reserved, through the
	// operator's master credential: no provider token is minted for it.
	// It is derived from the namespace's RFC 2136 key, so rfc2136 must be
	// enabled too; it rotates with it.
	// +optional
	// +kubebuilder:default={enabled: false}
	CloudflareAPI *CredentialToggle `json:"cloudflareAPI,omitempty"`

	// rotation says when credentials are replaced.
	// +optional
	// +kubebuilder:default={schedule: "@every 720h", overlap: "1h"}
	Rotation RotationSpec `json:"rotation,omitzero"`

	// expireAfter is the provider-side hard expiry of a minted token, counted
	// from its minting. It must exceed one rotation period plus overlap so that
	// a token never expires before its successor is in place.
	// +optional
	// +kubebuilder:default="768h"
	ExpireAfter *metav1.Duration `json:"expireAfter,omitempty"`

	// allowedCIDRs limits where minted provider tokens may be used from
	// (Cloudflare's request.ip condition). Empty means anywhere.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self)",message="must be a CIDR such as 203.0.113.0/24"
	AllowedCIDRs []string `json:"allowedCIDRs,omitempty"`
}

// CredentialToggle turns one kind of credential on or off.
type CredentialToggle struct {
	// enabled turns this credential on.
	// +optional
	Enabled bool `json:"enabled"`
}

// RotationSpec is a rotation schedule and the time old and new credentials overlap.
type RotationSpec struct {
	// schedule is a cron expression ("0 3 * * 1") or "@every <duration>".
	// +optional
	// +kubebuilder:default="@every 720h"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('@every ') || self.substring(7).matches('^([0-9]+(ns|us|ms|s|m|h))+$')",message="@every takes a duration such as 720h"
	Schedule string `json:"schedule,omitempty"`

	// overlap is how long the previous credential keeps working after the new
	// one is written, so readers that cached it finish their work.
	// +optional
	// +kubebuilder:default="1h"
	Overlap *metav1.Duration `json:"overlap,omitempty"`
}

// ZoneStatus is a zone of the scope as resolved at the provider.
type ZoneStatus struct {
	// name of the zone.
	Name string `json:"name"`
	// id of the zone at the provider.
	// +optional
	ID string `json:"id,omitempty"`
}

// DNSScopeStatus is what the operator observed of a scope.
type DNSScopeStatus struct {
	// observedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready, ProviderReady, SharedZoneTokens.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// zones as resolved at the provider.
	// +optional
	// +listType=map
	// +listMapKey=name
	Zones []ZoneStatus `json:"zones,omitempty"`

	// namespaces is how many namespaces hold claims under this scope.
	// +optional
	Namespaces int32 `json:"namespaces"`

	// claims is how many claims reference this scope.
	// +optional
	Claims int32 `json:"claims"`
}

// DNSScope grants namespaces the right to claim DNS names in a provider's zones.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=dnss;dscope,categories=scopedns
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Namespaces",type=integer,JSONPath=`.status.namespaces`
// +kubebuilder:printcolumn:name="Claims",type=integer,JSONPath=`.status.claims`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DNSScope struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the grant.
	// +required
	Spec DNSScopeSpec `json:"spec"`

	// status is what the operator observed.
	// +optional
	Status DNSScopeStatus `json:"status,omitempty"`
}

// DNSScopeList is a list of DNSScopes.
// +kubebuilder:object:root=true
type DNSScopeList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DNSScope `json:"items"`
}

func init() {
	SchemeBuilder.Register(&DNSScope{}, &DNSScopeList{})
}

// Defaults the API server applies; the accessors below fall back to them so
// that Go callers holding an object that never went through the API server
// (tests, dry runs) see the same values.
const (
	DefaultRotationSchedule = "@every 720h"
	DefaultRotationOverlap  = time.Hour
	DefaultExpireAfter      = 768 * time.Hour
)

// CredentialsSecretName is the name of the credentials Secret the scope
// writes in each namespace: spec.credentials.secretName, or
// "<scope>-dns-credentials".
func (s *DNSScope) CredentialsSecretName() string {
	if s.Spec.Credentials.SecretName != "" {
		return s.Spec.Credentials.SecretName
	}
	return s.Name + "-dns-credentials"
}

// ProviderTokenEnabled reports whether namespaces get a provider token.
func (c *CredentialsSpec) ProviderTokenEnabled() bool {
	return c.ProviderToken == nil || c.ProviderToken.Enabled
}

// RFC2136Enabled reports whether namespaces get a TSIG key for the gateway.
func (c *CredentialsSpec) RFC2136Enabled() bool {
	return c.RFC2136 != nil && c.RFC2136.Enabled
}

// ACMEDNSEnabled reports whether namespaces get acme-dns accounts. They are
// derived from the TSIG key, so they need rfc2136 too (the API server and the
// webhook refuse one without the other; this holds for objects that skipped
// both).
func (c *CredentialsSpec) ACMEDNSEnabled() bool {
	return c.ACMEDNS != nil && c.ACMEDNS.Enabled && c.RFC2136Enabled()
}

// DynDNSEnabled reports whether namespaces get a dyndns2 login; like
// ACMEDNSEnabled it needs rfc2136.
func (c *CredentialsSpec) DynDNSEnabled() bool {
	return c.DynDNS != nil && c.DynDNS.Enabled && c.RFC2136Enabled()
}

// CloudflareAPIEnabled reports whether namespaces get a token for the
// Cloudflare-compatible API; like ACMEDNSEnabled it needs rfc2136.
func (c *CredentialsSpec) CloudflareAPIEnabled() bool {
	return c.CloudflareAPI != nil && c.CloudflareAPI.Enabled && c.RFC2136Enabled()
}

// FrontDoorsEnabled reports whether any HTTP front-door credential is on.
func (c *CredentialsSpec) FrontDoorsEnabled() bool {
	return c.ACMEDNSEnabled() || c.DynDNSEnabled() || c.CloudflareAPIEnabled()
}

// RotationSchedule is the rotation schedule, defaulted.
func (c *CredentialsSpec) RotationSchedule() string {
	if c.Rotation.Schedule == "" {
		return DefaultRotationSchedule
	}
	return c.Rotation.Schedule
}

// RotationOverlap is how long the previous credential keeps working, defaulted.
func (c *CredentialsSpec) RotationOverlap() time.Duration {
	if c.Rotation.Overlap == nil {
		return DefaultRotationOverlap
	}
	return c.Rotation.Overlap.Duration
}

// TokenLifetime is the provider-side expiry of a minted token, defaulted.
func (c *CredentialsSpec) TokenLifetime() time.Duration {
	if c.ExpireAfter == nil {
		return DefaultExpireAfter
	}
	return c.ExpireAfter.Duration
}
