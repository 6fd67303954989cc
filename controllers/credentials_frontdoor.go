package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/cfapi"
	"github.com/scopedns/scopedns/internal/frontcreds"
)

// Secret keys of the HTTP front doors' logins.
const (
	// KeyACMEDNS holds the JSON cert-manager's acmeDNS solver
	// (accountSecretRef) and lego's acme-dns storage read:
	// {"<domain>": {"username", "password", "subdomain", "fulldomain", "server_url"}}.
	KeyACMEDNS = "acmedns.json"
	// KeyDynDNSUsername and KeyDynDNSPassword are the dyndns2 Basic auth
	// login (ddclient, inadyn, routers).
	KeyDynDNSUsername = "dyndns-username"
	KeyDynDNSPassword = "dyndns-password"
	// KeyCloudflareAPIToken is the bearer token of the Cloudflare-compatible
	// API, and KeyCloudflareAPIURL its base URL (--http-gateway-url +
	// /client/v4): what lego and external-dns read as CLOUDFLARE_API_TOKEN
	// (or CF_API_TOKEN) and CLOUDFLARE_BASE_URL, Terraform as api_token and
	// base_url.
	KeyCloudflareAPIToken = "cloudflare-api-token"
	KeyCloudflareAPIURL   = "cloudflare-api-url"
)

// frontDoorKeys are the front-door keys of the tenant Secret: the acme-dns
// accounts of the namespace's reserved _acme-challenge names and its
// dyndns2 login, derived from the vault's current TSIG secret (the gateway
// keys controller derives the same from the same secret, so the Secret and
// the front doors agree without a stored copy). It also keeps the
// FrontDoorsReady condition: keys are delivered only while the manager
// serves the front door at a URL it can tell tenants.
func (r *CredentialsReconciler) frontDoorKeys(ctx context.Context, scope *v1alpha1.DNSScope, cred *v1alpha1.DNSCredential, v *corev1.Secret) (map[string][]byte, error) {
	creds := &scope.Spec.Credentials
	st := &cred.Status
	if !creds.FrontDoorsEnabled() {
		meta.RemoveStatusCondition(&st.Conditions, v1alpha1.ConditionFrontDoorsReady)
		return nil, nil
	}
	if missing := r.missingHTTPGateway(); missing != "" {
		return nil, r.setFrontDoorsReady(ctx, cred, false, v1alpha1.ReasonHTTPGatewayNotConfigured,
			fmt.Sprintf("DNSScope %s enables %s, but the manager runs without %s; no acme-dns or dyndns2 logins are served or delivered until it is set",
				scope.Name, enabledFrontDoors(creds), missing))
	}
	out := map[string][]byte{}
	secret := string(v.Data[KeyTSIGSecret])
	if secret != "" {
		reserved, err := namespaceReservations(ctx, r.Client, r.Policies, scope, cred.Spec.Namespace)
		if err != nil {
			return nil, err
		}
		id := frontcreds.Identity{Cluster: r.ClusterName, Scope: scope.Name, Namespace: cred.Spec.Namespace}
		if creds.ACMEDNSEnabled() {
			if accounts := frontcreds.ACMEDNSAccounts(id, []string{secret}, reserved); len(accounts) > 0 {
				b, err := frontcreds.ACMEDNSJSON(accounts, r.HTTPGatewayURL)
				if err != nil {
					return nil, fmt.Errorf("encoding %s: %w", KeyACMEDNS, err)
				}
				out[KeyACMEDNS] = b
			}
		}
		if creds.DynDNSEnabled() {
			if u, ok := frontcreds.DynDNSUser(id, []string{secret}, reserved); ok {
				out[KeyDynDNSUsername] = []byte(u.Username)
				out[KeyDynDNSPassword] = []byte(u.Passwords[0])
			}
		}
		if creds.CloudflareAPIEnabled() {
			if t, ok := frontcreds.CloudflareAPIToken(id, []string{secret}, reserved); ok {
				out[KeyCloudflareAPIToken] = []byte(t.Values[0])
				out[KeyCloudflareAPIURL] = []byte(strings.TrimSuffix(r.HTTPGatewayURL, "/") + cfapi.Prefix[:len(cfapi.Prefix)-1])
			}
		}
	}
	return out, r.setFrontDoorsReady(ctx, cred, true, v1alpha1.ReasonFrontDoorsServed,
		fmt.Sprintf("%s logins are served at %s", enabledFrontDoors(creds), r.HTTPGatewayURL))
}

// missingHTTPGateway names the manager flag the front doors lack, or "".
func (r *CredentialsReconciler) missingHTTPGateway() string {
	switch {
	case !r.HTTPGatewayServed:
		return "--http-gateway-addr (the HTTP front door is off)"
	case r.HTTPGatewayURL == "":
		return "--http-gateway-url (the URL tenants reach the HTTP front door at, for acmedns.json's server_url)"
	}
	return ""
}

func enabledFrontDoors(c *v1alpha1.CredentialsSpec) string {
	var on []string
	for _, d := range []struct {
		name    string
		enabled bool
	}{{"acmeDNS", c.ACMEDNSEnabled()}, {"dynDNS", c.DynDNSEnabled()}, {"cloudflareAPI", c.CloudflareAPIEnabled()}} {
		if d.enabled {
			on = append(on, d.name)
		}
	}
	switch len(on) {
	case 0:
		return ""
	case 1:
		return on[0]
	}
	return strings.Join(on[:len(on)-1], ", ") + " and " + on[len(on)-1]
}

// setFrontDoorsReady sets the condition (finish writes it with the rest of
// the status); a change to false is also a Warning event, once.
func (r *CredentialsReconciler) setFrontDoorsReady(ctx context.Context, cred *v1alpha1.DNSCredential, ok bool, reason, msg string) error {
	st := &cred.Status
	var before metav1.Condition // a copy: setCondition changes the slice's element in place
	if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionFrontDoorsReady); c != nil {
		before = *c
	}
	if before.Type != "" && (before.Status == metav1.ConditionTrue) == ok && before.Reason == reason && before.Message == msg && before.ObservedGeneration == cred.Generation {
		return nil
	}
	setCondition(&st.Conditions, cred.Generation, v1alpha1.ConditionFrontDoorsReady, ok, reason, msg)
	if !ok && r.Recorder != nil && before.Reason != reason {
		r.Recorder.Eventf(cred, nil, corev1.EventTypeWarning, reason, "DeliverFrontDoorLogins", "%s", msg)
	}
	return nil
}
