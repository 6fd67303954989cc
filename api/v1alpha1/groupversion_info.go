// Package v1alpha1 holds the scopedns.io/v1alpha1 API: cluster-scoped DNSScope
// grants written by platform admins and namespaced DNSRecordClaims written by teams.
//
// +kubebuilder:object:generate=true
// +groupName=scopedns.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the API group and version of these types.
	GroupVersion = schema.GroupVersion{Group: "scopedns.io", Version: "v1alpha1"}

	// SchemeBuilder registers the types with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
