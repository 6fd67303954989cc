package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

// TestEqualStatus: finish writes the status when anything a reconcile left
// for it changed, not only the conditions; a condition's transition time
// alone is no change.
func TestEqualStatus(t *testing.T) {
	base := func() *v1alpha1.DNSCredentialStatus {
		return &v1alpha1.DNSCredentialStatus{
			SecretName: "prod-dns-credentials", SecretUID: "uid-1",
			TSIG:       &v1alpha1.TSIGKeyStatus{KeyName: "team-a.prod", Generation: 1},
			Conditions: []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Reconciled", LastTransitionTime: metav1.NewTime(time.Unix(100, 0))}},
		}
	}
	for name, tc := range map[string]struct {
		change func(*v1alpha1.DNSCredentialStatus)
		equal  bool
	}{
		"an unchanged status is equal": {change: func(*v1alpha1.DNSCredentialStatus) {}, equal: true},
		"a condition's transition time alone is no change": {change: func(s *v1alpha1.DNSCredentialStatus) {
			s.Conditions[0].LastTransitionTime = metav1.NewTime(time.Unix(200, 0))
		}, equal: true},
		"a re-created Secret's UID is a change":   {change: func(s *v1alpha1.DNSCredentialStatus) { s.SecretUID = "uid-2" }},
		"a new rotation time is a change":         {change: func(s *v1alpha1.DNSCredentialStatus) { s.NextRotation = &metav1.Time{Time: time.Unix(300, 0)} }},
		"a TSIG key's new generation is a change": {change: func(s *v1alpha1.DNSCredentialStatus) { s.TSIG.Generation = 2 }},
		"a condition's new reason is a change":    {change: func(s *v1alpha1.DNSCredentialStatus) { s.Conditions[0].Reason = "QuotaExceeded" }},
	} {
		t.Run(name, func(t *testing.T) {
			a, b := base(), base()
			tc.change(b)
			if got := equalStatus(a, b); got != tc.equal {
				t.Fatalf("equalStatus = %v, want %v", got, tc.equal)
			}
		})
	}
}
