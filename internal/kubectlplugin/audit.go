package kubectlplugin

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/policy"
)

// Audit is one row per credential the operator issued, from DNSCredential
// status: the operator's own record, never a tenant's Secret.
type Audit struct {
	Credentials []CredentialRow `json:"credentials"`
}

// CredentialRow is one credential of one namespace under one scope.
type CredentialRow struct {
	Namespace string `json:"namespace"`
	Scope     string `json:"scope"`
	Kind      string `json:"kind"`
	// ZoneWide kinds (provider tokens) write every name of their zones.
	ZoneWide bool `json:"zoneWide"`
	// Zones is how many zones a zone-wide credential (a provider token) can
	// write every name of; Names how many names the others can write.
	Zones int32 `json:"zones,omitempty"`
	Names int   `json:"names,omitempty"`
	// Broad is set on a zone-wide credential whose zones other namespaces
	// claim in too (the scope's SharedZoneTokens condition).
	Broad        bool         `json:"broad"`
	ExpiresAt    *metav1.Time `json:"expiresAt,omitempty"`
	NextRotation *metav1.Time `json:"nextRotation,omitempty"`
	// LastRotation is when the value in use was minted or last rotated,
	// when the status tells (credentialKind.issued).
	LastRotation *metav1.Time `json:"lastRotation,omitempty"`
	// State is "Ready", or the reason of the condition that says otherwise.
	State   string `json:"state"`
	Message string `json:"message,omitempty"`
}

// AuditFilter narrows the rows.
type AuditFilter struct {
	// Namespace keeps one namespace's credentials; empty keeps all (-A).
	Namespace string
	// ExpiringWithin keeps the credentials that expire before Now plus it.
	ExpiringWithin time.Duration
	// Broad keeps the broad credentials.
	Broad bool
	Now   time.Time
}

// AuditOf turns the DNSCredentials into rows; scopes are by name, and the
// claims count the names each namespace's non-zone-wide credentials reach.
func AuditOf(creds []v1alpha1.DNSCredential, scopes map[string]*v1alpha1.DNSScope, claims []v1alpha1.DNSRecordClaim, f AuditFilter) Audit {
	names := claimedNames(claims)
	a := Audit{Credentials: []CredentialRow{}}
	for i := range creds {
		c := &creds[i]
		if f.Namespace != "" && c.Spec.Namespace != f.Namespace {
			continue
		}
		scope := scopes[c.Spec.ScopeName]
		var spec *v1alpha1.CredentialsSpec
		var shared sharedZones
		if scope != nil {
			spec = &scope.Spec.Credentials
			shared = sharedZonesOf(scope)
		}
		for _, k := range credentialKinds {
			if !k.held(&c.Status, spec) && (spec == nil || !k.enabled(spec)) {
				continue
			}
			row := CredentialRow{
				Namespace: c.Spec.Namespace, Scope: c.Spec.ScopeName, Kind: k.name,
				NextRotation: timeOrNil(c.Status.NextRotation),
				LastRotation: timeOrNil(k.issued(&c.Status, spec)),
			}
			if k.expires != nil {
				row.ExpiresAt = timeOrNil(k.expires(&c.Status))
			}
			if row.ZoneWide = k.zoneWide; k.zoneWide {
				row.Zones = tokenZones(&c.Status)
				row.Broad = shared.any(tokenZoneNames(&c.Status, scope))
			} else {
				row.Names = names[nameKey{c.Spec.Namespace, c.Spec.ScopeName}]
			}
			row.State, row.Message = state(&c.Status, k, scope)
			if f.keeps(row) {
				a.Credentials = append(a.Credentials, row)
			}
		}
	}
	sort.SliceStable(a.Credentials, func(i, j int) bool {
		x, y := a.Credentials[i], a.Credentials[j]
		if x.Namespace != y.Namespace {
			return x.Namespace < y.Namespace
		}
		return x.Scope < y.Scope
	})
	return a
}

func (f AuditFilter) keeps(r CredentialRow) bool {
	if f.Broad && !r.Broad {
		return false
	}
	if f.ExpiringWithin > 0 && (r.ExpiresAt == nil || !r.ExpiresAt.Time.Before(f.Now.Add(f.ExpiringWithin))) {
		return false
	}
	return true
}

type nameKey struct{ namespace, scope string }

// claimedNames counts the distinct names each namespace claims under each
// scope, from claim specs (never status): the names its TSIG key and front
// doors may write once the claims are accepted.
func claimedNames(claims []v1alpha1.DNSRecordClaim) map[nameKey]int {
	seen := map[nameKey]map[string]bool{}
	for i := range claims {
		c := &claims[i]
		if !c.DeletionTimestamp.IsZero() {
			continue
		}
		k := nameKey{c.Namespace, c.Spec.ScopeName}
		if seen[k] == nil {
			seen[k] = map[string]bool{}
		}
		for _, key := range policy.Keys(c) {
			seen[k][key.Name] = true
		}
	}
	out := make(map[nameKey]int, len(seen))
	for k, v := range seen {
		out[k] = len(v)
	}
	return out
}

func tokenZones(st *v1alpha1.DNSCredentialStatus) int32 {
	if st.Token == nil {
		return 0
	}
	return int32(len(st.Token.ZoneIDs)) //nolint:gosec // at most 50 zones (the API's MaxItems)
}

// tokenZoneNames maps the token's zone IDs to names through the scope's
// status; an ID the scope does not list comes back as the ID.
func tokenZoneNames(st *v1alpha1.DNSCredentialStatus, scope *v1alpha1.DNSScope) []string {
	if st.Token == nil {
		return nil
	}
	byID := map[string]string{}
	if scope != nil {
		for _, z := range scope.Status.Zones {
			byID[z.ID] = z.Name
		}
	}
	out := make([]string, 0, len(st.Token.ZoneIDs))
	for _, id := range st.Token.ZoneIDs {
		if n, ok := byID[id]; ok {
			out = append(out, n)
		} else {
			out = append(out, id)
		}
	}
	return out
}

// sharedZones are the zones the scope's SharedZoneTokens condition names.
// all is set when the condition is true but does not name every zone (its
// message lists at most ten): then every zone-wide credential counts.
type sharedZones struct {
	zones map[string]bool
	all   bool
}

var sharedZoneRE = regexp.MustCompile(`zone (\S+): held by`)

// sharedZonesOf reads the SharedZoneTokens condition, the scope
// controller's decision, rather than deciding sharing a second time.
func sharedZonesOf(scope *v1alpha1.DNSScope) sharedZones {
	c := meta.FindStatusCondition(scope.Status.Conditions, v1alpha1.ConditionSharedZoneTokens)
	if c == nil || c.Status != metav1.ConditionTrue {
		return sharedZones{}
	}
	s := sharedZones{zones: map[string]bool{}}
	for _, m := range sharedZoneRE.FindAllStringSubmatch(c.Message, -1) {
		s.zones[m[1]] = true
	}
	s.all = len(s.zones) == 0 || strings.Contains(c.Message, "more zones")
	return s
}

func (s sharedZones) any(zones []string) bool {
	if len(zones) == 0 {
		return false
	}
	if s.all {
		return s.zones != nil
	}
	for _, z := range zones {
		if s.zones[z] {
			return true
		}
	}
	return false
}

// state is "Ready" or the reason of the first condition that is not: the
// scope gone, the kind's own condition, quota and revocation.
func state(st *v1alpha1.DNSCredentialStatus, k credentialKind, scope *v1alpha1.DNSScope) (string, string) {
	if scope == nil {
		return v1alpha1.ReasonScopeGone, "the DNSScope no longer exists; the operator revokes the credential"
	}
	if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionQuotaExceeded); c != nil && c.Status == metav1.ConditionTrue {
		return c.Reason, c.Message
	}
	if c := meta.FindStatusCondition(st.Conditions, k.condition); c == nil {
		return v1alpha1.ReasonProgressing, fmt.Sprintf("no %s condition yet", k.condition)
	} else if c.Status != metav1.ConditionTrue {
		return c.Reason, c.Message
	}
	if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionRevocationPending); c != nil && c.Status == metav1.ConditionTrue && k.zoneWide {
		return c.Reason, c.Message
	}
	return "Ready", ""
}

func (a Audit) table() table {
	t := table{
		header: []string{"NAMESPACE", "SCOPE", "KIND", "SCOPED TO", "EXPIRES", "NEXT ROTATION", "LAST ROTATION", "STATE"},
		empty:  "No credentials found.",
	}
	for _, r := range a.Credentials {
		scoped := plural(r.Names, "name")
		if r.ZoneWide {
			scoped = plural(int(r.Zones), "zone")
			if r.Broad {
				scoped += " (shared)"
			}
		}
		t.rows = append(t.rows, []string{r.Namespace, r.Scope, r.Kind, scoped, stamp(r.ExpiresAt), stamp(r.NextRotation), stamp(r.LastRotation), r.State})
	}
	return t
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// stamp prints a time as kubectl prints absolute times (RFC 3339, UTC).
func stamp(t *metav1.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
