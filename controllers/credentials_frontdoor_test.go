package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/frontcreds"
)

const gatewayURL = "https://dns-gateway.example.net"

// deliverFrontDoor delivers team-a's Secret under frontDoorScope and returns
// it with the DNSCredential after the delivery, the events and the log.
func deliverFrontDoor(t *testing.T, scope *v1alpha1.DNSScope, served bool, url string) (*corev1.Secret, *v1alpha1.DNSCredential, []string, string, *GatewayKeysReconciler) {
	t.Helper()
	keys := newFrontDoorReconciler(t, frontDoorObjects(scope)...)
	cl := keys.Client
	rec := events.NewFakeRecorder(20)
	r := &CredentialsReconciler{
		Client: cl, APIReader: cl, Recorder: rec, Namespace: "scopedns-system", ClusterName: frontCluster,
		Policies: keys.Policies, Nameserver: "gateway.example.net:53", HTTPGatewayServed: served, HTTPGatewayURL: url,
	}
	var logs strings.Builder
	ctx := log.IntoContext(context.Background(), funcr.New(func(prefix, args string) { fmt.Fprintln(&logs, prefix, args) }, funcr.Options{Verbosity: 10}))
	var cred v1alpha1.DNSCredential
	if err := cl.Get(ctx, client.ObjectKey{Name: v1alpha1.DNSCredentialName("prod", "team-a")}, &cred); err != nil {
		t.Fatal(err)
	}
	var vault corev1.Secret
	if err := cl.Get(ctx, client.ObjectKey{Namespace: "scopedns-system", Name: vaultName(&cred)}, &vault); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second delivery puts back and re-checks what the first wrote
		tenant, err := r.readTenantSecret(ctx, "team-a", CredentialsSecretName(scope))
		if err != nil {
			t.Fatal(err)
		}
		var fresh *preparedCreation
		if tenant == nil {
			if fresh, err = prepareCreation(&vault, CredentialsSecretName(scope)); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.deliver(ctx, scope, &cred, &vault, tenant, fresh); err != nil {
			t.Fatal(err)
		}
		if err := r.finish(ctx, &cred, nil); err != nil { // as reconcile does
			t.Fatal(err)
		}
	}
	var s corev1.Secret
	if err := cl.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: CredentialsSecretName(scope)}, &s); err != nil {
		t.Fatal(err)
	}
	if err := cl.Get(ctx, client.ObjectKey{Name: cred.Name}, &cred); err != nil {
		t.Fatal(err)
	}
	close(rec.Events)
	var evs []string
	for e := range rec.Events {
		evs = append(evs, e)
	}
	if _, err := keys.Reconcile(ctx, teamAProd); err != nil {
		t.Fatal(err)
	}
	return &s, &cred, evs, logs.String(), keys
}

func TestCredentialsSecretFrontDoorKeys(t *testing.T) {
	webDomain := "web.team-a.apps.example.com"
	for name, tc := range map[string]struct {
		acmeDNS, dynDNS bool
		served          bool
		url             string
		wantKeys        []string
		wantCondition   string // reason of FrontDoorsReady; "" absent
		wantMissing     string // the flag the condition and event name
	}{
		"should deliver acmedns.json and the dyndns2 login when both are enabled and served": {
			true, true, true, gatewayURL, []string{KeyACMEDNS, KeyDynDNSUsername, KeyDynDNSPassword}, v1alpha1.ReasonFrontDoorsServed, ""},
		"should deliver acmedns.json alone when only acmeDNS is enabled": {
			true, false, true, gatewayURL, []string{KeyACMEDNS}, v1alpha1.ReasonFrontDoorsServed, ""},
		"should deliver the dyndns2 login alone when only dynDNS is enabled": {
			false, true, true, gatewayURL, []string{KeyDynDNSUsername, KeyDynDNSPassword}, v1alpha1.ReasonFrontDoorsServed, ""},
		"should deliver no front-door key and set no condition when the scope enables neither": {
			false, false, true, gatewayURL, nil, "", ""},
		"should deliver no front-door key and say --http-gateway-url is missing": {
			true, true, true, "", nil, v1alpha1.ReasonHTTPGatewayNotConfigured, "--http-gateway-url"},
		"should deliver no front-door key and say --http-gateway-addr is missing when the front door is off": {
			true, true, false, gatewayURL, nil, v1alpha1.ReasonHTTPGatewayNotConfigured, "--http-gateway-addr"},
	} {
		t.Run(name, func(t *testing.T) {
			s, cred, evs, logs, keys := deliverFrontDoor(t, frontDoorScope(tc.acmeDNS, tc.dynDNS), tc.served, tc.url)
			for _, k := range []string{KeyACMEDNS, KeyDynDNSUsername, KeyDynDNSPassword} {
				want := false
				for _, w := range tc.wantKeys {
					want = want || w == k
				}
				if _, ok := s.Data[k]; ok != want {
					t.Errorf("Secret key %s present = %v, want %v", k, ok, want)
				}
			}
			if len(s.Data[KeyTSIGSecret]) == 0 {
				t.Error("the RFC 2136 keys went missing beside the front-door keys")
			}
			c := meta.FindStatusCondition(cred.Status.Conditions, v1alpha1.ConditionFrontDoorsReady)
			switch {
			case tc.wantCondition == "" && c != nil:
				t.Errorf("condition FrontDoorsReady = %s, want none", c.Reason)
			case tc.wantCondition != "" && (c == nil || c.Reason != tc.wantCondition || !strings.Contains(c.Message, tc.wantMissing)):
				t.Errorf("condition FrontDoorsReady = %+v, want reason %s naming %q", c, tc.wantCondition, tc.wantMissing)
			}
			warned := 0
			for _, e := range evs {
				if strings.Contains(e, v1alpha1.ReasonHTTPGatewayNotConfigured) {
					warned++
					if !strings.Contains(e, "Warning") || !strings.Contains(e, tc.wantMissing) {
						t.Errorf("event %q is not a Warning naming %s", e, tc.wantMissing)
					}
				}
			}
			if want := map[bool]int{true: 1}[tc.wantMissing != ""]; warned != want {
				t.Errorf("%d %s events over two deliveries, want %d", warned, v1alpha1.ReasonHTTPGatewayNotConfigured, want)
			}

			// What the Secret holds is what the front doors accept.
			if b, ok := s.Data[KeyACMEDNS]; ok {
				var got map[string]frontcreds.ACMEDNSEntry
				if err := json.Unmarshal(b, &got); err != nil {
					t.Fatalf("acmedns.json: %v", err)
				}
				e, ok := got[webDomain]
				a, found := keys.Accounts.Account(e.Username)
				if !ok || len(got) != 1 || !found || a.Passwords[0] != e.Password || a.Subdomain != e.Subdomain ||
					e.FullDomain != "_acme-challenge."+webDomain || e.ServerURL != gatewayURL {
					t.Errorf("acmedns.json holds %d accounts; the one of %s is not the front door's (values not printed)", len(got), webDomain)
				}
			}
			if name, ok := s.Data[KeyDynDNSUsername]; ok {
				u, found := keys.Users.User(string(name))
				if !found || u.Passwords[0] != string(s.Data[KeyDynDNSPassword]) {
					t.Errorf("the dyndns2 login %q of the Secret is not the front door's", name)
				}
			}

			// No value in an event, the status or a log line.
			status, _ := json.Marshal(cred.Status)
			exposed := strings.Join(evs, "\n") + "\n" + string(status) + "\n" + logs
			for k, v := range s.Data {
				if k == KeyDynDNSUsername || k == KeyTSIGName || k == KeyTSIGAlgorithm || k == KeyNameserver {
					continue // names, not secrets
				}
				values := []string{string(v)}
				if k == KeyACMEDNS {
					var m map[string]frontcreds.ACMEDNSEntry
					_ = json.Unmarshal(v, &m)
					values = nil
					for _, e := range m {
						values = append(values, e.Password)
					}
				}
				for _, val := range values {
					if strings.Contains(exposed, val) {
						t.Errorf("the value of %s appears in an event, the status or a log line", k)
					}
				}
			}
		})
	}
}
