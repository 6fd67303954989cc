package v1alpha1

// RecordType is a DNS record type that a grant can allow and a claim can ask for.
// +kubebuilder:validation:Enum=A;AAAA;CNAME;TXT;MX;SRV;CAA;NS
type RecordType string

// The record types scopedns brokers.
const (
	RecordTypeA     RecordType = "A"
	RecordTypeAAAA  RecordType = "AAAA"
	RecordTypeCNAME RecordType = "CNAME"
	RecordTypeTXT   RecordType = "TXT"
	RecordTypeMX    RecordType = "MX"
	RecordTypeSRV   RecordType = "SRV"
	RecordTypeCAA   RecordType = "CAA"
	RecordTypeNS    RecordType = "NS"
)

// Condition types and reasons shared by both kinds. Reasons are part of the
// API: docs/troubleshooting.md explains each one.
const (
	// ConditionReady is true when everything the object asks for is in place.
	ConditionReady = "Ready"
	// ConditionProviderReady is true when the scope's master credential verified
	// and every zone of the scope resolved at the provider.
	ConditionProviderReady = "ProviderReady"
	// ConditionAccepted is true when every record of a claim lies inside its
	// scope's grant for the claim's namespace and conflicts with no older claim.
	ConditionAccepted = "Accepted"
	// ConditionSharedZoneTokens is true on a DNSScope when provider tokens are
	// minted for a zone that more than one namespace may claim names in:
	// Cloudflare tokens are zone-wide, so each of those namespaces' tokens can
	// write the others' records. The message names the zones and namespaces.
	ConditionSharedZoneTokens = "SharedZoneTokens"
	// ConditionClusterNameConflict is true on a DNSScope when one of its
	// zones holds the marker (TXT _scopedns-owner.<zone>) of another
	// installation that uses this --cluster-name on the provider account:
	// both would take each other's records and tokens for their own, so
	// nothing is written, adopted or collected in that zone (its claims say
	// ClusterNameConflict) and the account's tokens are not swept. The
	// other zones go on.
	ConditionClusterNameConflict = "ClusterNameConflict"
	// ReasonClusterNameConflict is ClusterNameConflict's true reason, and
	// the Ready reason of a claim with records in such a zone.
	ReasonClusterNameConflict = "ClusterNameConflict"
	// ReasonClusterMarked is ClusterNameConflict's false reason: every zone
	// holds this installation's marker and no other of its cluster name.
	ReasonClusterMarked = "Marked"

	ReasonReconciled          = "Reconciled"
	ReasonProgressing         = "Progressing"
	ReasonScopeNotFound       = "ScopeNotFound"
	ReasonNamespaceNotInScope = "NamespaceNotInScope"
	ReasonOutsideGrant        = "OutsideGrant"
	ReasonConflict            = "Conflict"
	ReasonRecordNotOwned      = "RecordNotOwned"
	ReasonProviderError       = "ProviderError"
	ReasonCredentialInvalid   = "CredentialInvalid"
	ReasonSecretNotFound      = "SecretNotFound"
	ReasonZoneNotFound        = "ZoneNotFound"
	ReasonQuotaExceeded       = "QuotaExceeded"
	ReasonRevocationPending   = "RevocationPending"
	ReasonZoneWideTokens      = "ZoneWideTokens"
	ReasonNoSharedZones       = "NoSharedZones"
	// ReasonProviderUnreachable: the provider did not answer (an RFC 2136
	// server that refuses connections or times out). On a scope that was
	// never Ready it holds Ready false too; on a Ready scope only
	// ProviderReady, since a blip must not stall every claim.
	ReasonProviderUnreachable = "ProviderUnreachable"
	// ReasonZoneNotWritable: the master credential may not update or
	// transfer a zone of the scope (BIND update-policy or allow-transfer,
	// Knot ACL).
	ReasonZoneNotWritable = "ZoneNotWritable"
	// ReasonInvalidRecords: records of one claim that the provider would
	// refuse together (the same name and type twice, a CNAME beside another
	// type, a CNAME to its own name).
	ReasonInvalidRecords = "InvalidRecords"
)

// SecretKeySelector names a key of a Secret in the operator's own namespace.
type SecretKeySelector struct {
	// name of the Secret in the operator's namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key inside the Secret's data.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}
