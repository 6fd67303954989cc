package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DNSRecordClaimSpec is a team's request for DNS names under a scope.
type DNSRecordClaimSpec struct {
	// scopeName is the DNSScope this claim is made under.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ScopeName string `json:"scopeName"`

	// records are the names claimed. A record with values is written and owned
	// by the operator; a record without values is reserved for this namespace's
	// credentials (a provider token's zone, or the gateway's TSIG key).
	// +required
	// +listType=map
	// +listMapKey=name
	// +listMapKey=type
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	Records []RecordSpec `json:"records"`
}

// RecordSpec is one claimed (name, type) and, optionally, its values.
// +kubebuilder:validation:XValidation:rule="self.type != 'CNAME' || !has(self.values) || size(self.values) <= 1",message="a CNAME has at most one value"
// +kubebuilder:validation:XValidation:rule="self.type != 'A' || !has(self.values) || self.values.all(v, isIP(v) && ip(v).family() == 4)",message="A values must be IPv4 addresses"
// +kubebuilder:validation:XValidation:rule="self.type != 'AAAA' || !has(self.values) || self.values.all(v, isIP(v) && ip(v).family() == 6)",message="AAAA values must be IPv6 addresses"
type RecordSpec struct {
	// name is the fully qualified record name, e.g. web.team-a.apps.example.com.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// type is the record type.
	// +required
	Type RecordType `json:"type"`

	// ttl in seconds; 1 asks the provider for its automatic TTL.
	// +optional
	// +kubebuilder:default=300
	// +kubebuilder:validation:XValidation:rule="self == 1 || (self >= 60 && self <= 86400)",message="ttl must be 1 (automatic) or between 60 and 86400"
	TTL int32 `json:"ttl,omitempty"`

	// values are the record's contents in presentation format ("10 mail.example.com."
	// for MX). Empty reserves the name and type for this namespace's credentials.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=4096
	Values []string `json:"values,omitempty"`
}

// RecordState is where one claimed record stands.
// +kubebuilder:validation:Enum=Pending;Written;Reserved;Conflict;NotOwned;Refused;Error
type RecordState string

// Record states reported in a claim's status.
const (
	RecordPending  RecordState = "Pending"
	RecordWritten  RecordState = "Written"
	RecordReserved RecordState = "Reserved"
	RecordConflict RecordState = "Conflict"
	RecordNotOwned RecordState = "NotOwned"
	RecordRefused  RecordState = "Refused"
	RecordError    RecordState = "Error"
)

// RecordStatus is the observed state of one claimed record.
type RecordStatus struct {
	// name of the record, normalised.
	Name string `json:"name"`
	// type of the record.
	Type RecordType `json:"type"`
	// zone the record lies in.
	// +optional
	Zone string `json:"zone,omitempty"`
	// state of the record.
	State RecordState `json:"state"`
	// message explains the state when it is not Written or Reserved.
	// +optional
	Message string `json:"message,omitempty"`
}

// DNSRecordClaimStatus is what the operator observed of a claim.
type DNSRecordClaimStatus struct {
	// observedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Accepted, Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// records is the state of each claimed record.
	// +optional
	Records []RecordStatus `json:"records,omitempty"`

	// zones the claim's records lie in.
	// +optional
	// +listType=set
	Zones []string `json:"zones,omitempty"`

	// credentialsSecretName is the Secret in this namespace that holds the
	// credentials for the claimed names.
	// +optional
	CredentialsSecretName string `json:"credentialsSecretName,omitempty"`
}

// DNSRecordClaim claims DNS names for a namespace under a DNSScope.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dnsc;dclaim,categories=scopedns
// +kubebuilder:printcolumn:name="Scope",type=string,JSONPath=`.spec.scopeName`
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.status.credentialsSecretName`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DNSRecordClaim struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the claim.
	// +required
	Spec DNSRecordClaimSpec `json:"spec"`

	// status is what the operator observed.
	// +optional
	Status DNSRecordClaimStatus `json:"status,omitempty"`
}

// DNSRecordClaimList is a list of DNSRecordClaims.
// +kubebuilder:object:root=true
type DNSRecordClaimList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DNSRecordClaim `json:"items"`
}

func init() {
	SchemeBuilder.Register(&DNSRecordClaim{}, &DNSRecordClaimList{})
}
