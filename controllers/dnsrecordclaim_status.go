package controllers

import (
	"sort"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

// setStatus writes per-record states, zones, the credentials Secret name and
// the Ready condition. An empty reason means Ready.
func (r *ClaimReconciler) setStatus(claim *v1alpha1.DNSRecordClaim, evals []recordEval, scope *v1alpha1.DNSScope, reason, msg string) {
	claim.Status.Records = claim.Status.Records[:0]
	zones := map[string]bool{}
	for _, e := range evals {
		claim.Status.Records = append(claim.Status.Records, v1alpha1.RecordStatus{
			Name: e.key.Name, Type: v1alpha1.RecordType(e.key.Type), Zone: e.zone, State: e.state, Message: truncate(e.msg, 1024),
		})
		if e.zone != "" && (e.state == v1alpha1.RecordWritten || e.state == v1alpha1.RecordReserved) {
			zones[e.zone] = true
		}
	}
	// Zones keep the ones the claim wrote before, until a successful sync
	// proves they are empty of its records: the credentials controller reads
	// them, and a provider blip must not narrow or revoke a namespace's token.
	if reason == v1alpha1.ReasonProviderError || reason == v1alpha1.ReasonProgressing {
		for _, z := range claim.Status.Zones {
			zones[z] = true
		}
	}
	claim.Status.Zones = claim.Status.Zones[:0]
	for z := range zones {
		claim.Status.Zones = append(claim.Status.Zones, z)
	}
	sort.Strings(claim.Status.Zones)
	if scope != nil {
		claim.Status.CredentialsSecretName = CredentialsSecretName(scope)
	}
	if reason == "" {
		setCondition(&claim.Status.Conditions, claim.Generation, v1alpha1.ConditionReady, true, v1alpha1.ReasonReconciled, "every record is written or reserved")
		return
	}
	setCondition(&claim.Status.Conditions, claim.Generation, v1alpha1.ConditionReady, false, reason, msg)
}

// firstProblem returns the reason and message of the first record that is
// neither written nor reserved.
func firstProblem(evals []recordEval) (string, string) {
	for _, e := range evals {
		switch e.state {
		case v1alpha1.RecordWritten, v1alpha1.RecordReserved:
			continue
		case v1alpha1.RecordNotOwned:
			return v1alpha1.ReasonRecordNotOwned, e.key.Name + " " + e.key.Type + ": " + e.msg
		case v1alpha1.RecordPending:
			return v1alpha1.ReasonProgressing, e.key.Name + " " + e.key.Type + " is not written yet"
		default:
			return v1alpha1.ReasonProviderError, e.key.Name + " " + e.key.Type + ": " + e.msg
		}
	}
	return "", ""
}

// CredentialsSecretName is the name of the per-namespace credentials Secret of a scope.
func CredentialsSecretName(scope *v1alpha1.DNSScope) string {
	return scope.CredentialsSecretName()
}
