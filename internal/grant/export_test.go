package grant

// The hostile tables, exported to this package's external tests
// (callers_agree_test.go): the callers of the one verdict, the admission
// webhook and kubectl scopedns can-i, must answer every hostile input the
// same way. The data stays here, once; only test binaries see these names.

// HostileRecord is a record a namespace asks for, from hostileChecks or,
// as a TXT record of team-a, from hostileNames.
type HostileRecord struct {
	Namespace string
	Record    Record
	// Reason is the grant engine's refusal; empty when it grants.
	Reason Reason
	// Known is false for hostileNames' records, whose grant the table
	// does not say.
	Known bool
}

// HostileRecords returns every record case, by sentence.
func HostileRecords() map[string]HostileRecord {
	out := make(map[string]HostileRecord, len(hostileChecks)+len(hostileNames))
	for name, tc := range hostileChecks {
		out[name] = HostileRecord{Namespace: tc.ns, Record: tc.rec, Reason: tc.reason, Known: true}
	}
	for name, tc := range hostileNames {
		out["name: "+name] = HostileRecord{Namespace: "team-a", Record: Record{Name: tc.in, Type: "TXT"}}
	}
	return out
}

// HostilePolicies returns the invalid policies, by sentence: a scope of one
// of them grants nothing.
func HostilePolicies() map[string]Policy {
	out := make(map[string]Policy, len(hostilePolicies))
	for name, tc := range hostilePolicies {
		out[name] = tc.policy
	}
	return out
}

// TestPolicy is the policy hostileChecks run against.
var TestPolicy = testPolicy
