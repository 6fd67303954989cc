package kubectlplugin

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

// credentialKind is one kind of credential a scope hands a namespace: its
// name in grants and audit, whether a scope enables it, whether a
// DNSCredential holds it, what it reaches, when it was issued and expires,
// and which condition tells its state. Every column of grants and audit
// comes from this table, so a new kind is one entry in credentialKinds.
type credentialKind struct {
	name    string
	enabled func(*v1alpha1.CredentialsSpec) bool
	// held reports whether the DNSCredential holds one; spec is the
	// scope's, nil when the scope is gone.
	held func(*v1alpha1.DNSCredentialStatus, *v1alpha1.CredentialsSpec) bool
	// zoneWide kinds (provider tokens) can write every name of their zones:
	// audit counts their zones, and --broad asks about them. The others
	// reach exactly the names the namespace claimed.
	zoneWide bool
	// issued is when the value in use was minted or last rotated; nil when
	// the status cannot tell.
	issued func(*v1alpha1.DNSCredentialStatus, *v1alpha1.CredentialsSpec) *metav1.Time
	// expires is the value's own expiry; nil for kinds that only rotate.
	expires func(*v1alpha1.DNSCredentialStatus) *metav1.Time
	// condition is the DNSCredential condition that tells the kind's state.
	condition string
}

// credentialKinds lists the kinds in the order grants and audit print them.
var credentialKinds = []credentialKind{
	{name: "provider-token", enabled: (*v1alpha1.CredentialsSpec).ProviderTokenEnabled, held: hasToken, zoneWide: true, issued: tokenIssued, expires: tokenExpires, condition: v1alpha1.ConditionReady},
	{name: "tsig", enabled: (*v1alpha1.CredentialsSpec).RFC2136Enabled, held: hasTSIG, issued: tsigIssued, condition: v1alpha1.ConditionReady},
	{name: "acme-dns", enabled: (*v1alpha1.CredentialsSpec).ACMEDNSEnabled, held: servedIf((*v1alpha1.CredentialsSpec).ACMEDNSEnabled), issued: tsigIssued, condition: v1alpha1.ConditionFrontDoorsReady},
	{name: "dyndns2", enabled: (*v1alpha1.CredentialsSpec).DynDNSEnabled, held: servedIf((*v1alpha1.CredentialsSpec).DynDNSEnabled), issued: tsigIssued, condition: v1alpha1.ConditionFrontDoorsReady},
	{name: "cloudflare-api", enabled: (*v1alpha1.CredentialsSpec).CloudflareAPIEnabled, held: servedIf((*v1alpha1.CredentialsSpec).CloudflareAPIEnabled), issued: tsigIssued, condition: v1alpha1.ConditionFrontDoorsReady},
}

// enabledKinds names the kinds a scope hands out.
func enabledKinds(c *v1alpha1.CredentialsSpec) []string {
	var out []string
	for _, k := range credentialKinds {
		if k.enabled(c) {
			out = append(out, k.name)
		}
	}
	return out
}

func hasToken(st *v1alpha1.DNSCredentialStatus, _ *v1alpha1.CredentialsSpec) bool {
	return st.Token != nil
}
func hasTSIG(st *v1alpha1.DNSCredentialStatus, _ *v1alpha1.CredentialsSpec) bool {
	return st.TSIG != nil
}

// servedIf: the HTTP front doors' logins are derived from the TSIG key and
// delivered while FrontDoorsReady is true, which one condition says for
// every front door: the scope's toggle tells which of them a namespace has.
func servedIf(enabled func(*v1alpha1.CredentialsSpec) bool) func(*v1alpha1.DNSCredentialStatus, *v1alpha1.CredentialsSpec) bool {
	return func(st *v1alpha1.DNSCredentialStatus, c *v1alpha1.CredentialsSpec) bool {
		return c != nil && enabled(c) && st.TSIG != nil && meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionFrontDoorsReady)
	}
}

func tokenExpires(st *v1alpha1.DNSCredentialStatus) *metav1.Time {
	if st.Token == nil {
		return nil
	}
	return st.Token.ExpiresAt
}

// tokenIssued: a token is minted to expire expireAfter later, so its expiry
// less the scope's expireAfter is when it was minted.
func tokenIssued(st *v1alpha1.DNSCredentialStatus, c *v1alpha1.CredentialsSpec) *metav1.Time {
	if st.Token == nil || st.Token.ExpiresAt == nil || c == nil {
		return nil
	}
	return &metav1.Time{Time: st.Token.ExpiresAt.Add(-c.TokenLifetime())}
}

// tsigIssued: a rotated TSIG key keeps its previous secret for the overlap,
// so the previous secret's end less the overlap is the rotation. A key never
// rotated (or rotated longer ago than its overlap) does not say.
func tsigIssued(st *v1alpha1.DNSCredentialStatus, c *v1alpha1.CredentialsSpec) *metav1.Time {
	if st.TSIG == nil || st.TSIG.PreviousValidUntil == nil || c == nil {
		return nil
	}
	return &metav1.Time{Time: st.TSIG.PreviousValidUntil.Add(-c.RotationOverlap())}
}

// timeOrNil keeps zero times out of the output.
func timeOrNil(t *metav1.Time) *metav1.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	return t
}
