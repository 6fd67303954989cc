package certmanager

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	whapi "github.com/cert-manager/cert-manager/pkg/acme/webhook/apis/acme/v1alpha1"
	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/rfc2136"
	cmutil "github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/util"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/controllers"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/gateway"
)

func TestCertManagerRFC2136Solver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := newFixture(t)
	comID := f.sim.ZoneID("example.com")

	const domain, fqdn, name = "web.example.com", "_acme-challenge.web.example.com.", "_acme-challenge.web.example.com"

	// The gateway's keys, filled the way the operator fills them once the
	// credentials Secret exists: the namespace reserved one TXT name.
	keys := gateway.NewKeyStore()
	g := f.startGateway(t, keys)
	data := credentialsData(t, tenantNamespace, scopeName, g.addr)
	keys.Put(gatewayKey(data, tenantNamespace, scopeName,
		map[string]string{"example.com": comID},
		map[gateway.Grant]int32{{Name: name, Type: "TXT"}: 3600}))
	keyName := controllers.TSIGKeyName(tenantNamespace, scopeName)
	owner := gateway.OwnerComment(gatewayCluster, tenantNamespace)

	// The zone as cert-manager resolves it (ChallengeRequest.ResolvedZone):
	// by SOA through its DNS01 nameservers, here the simulator's DNS.
	zone, err := cmutil.FindZoneByFqdn(ctx, fqdn, []string{f.dnsAddr})
	if err != nil || zone != "example.com." {
		t.Fatalf("FindZoneByFqdn = %q, %v; want example.com.", zone, err)
	}

	// present checks that one TXT record with challengeValue, written by the
	// gateway for the namespace, is in the simulator and its DNS.
	present := func(t *testing.T) {
		t.Helper()
		recs := f.txtRecords("example.com", name)
		if len(recs) != 1 || recs[0].Content != challengeValue || recs[0].ZoneID != comID {
			t.Fatalf("example.com TXT %s = %+v, want one record with %q", name, recs, challengeValue)
		}
		if recs[0].Comment != owner {
			t.Errorf("comment = %q, want the gateway's owner marker %q", recs[0].Comment, owner)
		}
		if recs[0].TTL != 60 {
			t.Errorf("TTL = %d, want the 60 cert-manager asks for", recs[0].TTL)
		}
		for _, network := range []string{"udp", "tcp"} {
			rcode, txts := f.queryTXT(t, network, name)
			if rcode != dns.RcodeSuccess || !slices.Equal(txts, []string{challengeValue}) {
				t.Errorf("DNS over %s: %s %q, want NOERROR [%q]", network, dns.RcodeToString[rcode], txts, challengeValue)
			}
		}
		ok, err := cmutil.PreCheckDNS(ctx, fqdn, challengeValue, []string{f.dnsAddr}, false)
		if err != nil || !ok {
			t.Errorf("PreCheckDNS = %v, %v; want true", ok, err)
		}
	}
	// gone checks that no such record is left anywhere.
	gone := func(t *testing.T) {
		t.Helper()
		if recs := f.txtRecords("example.com", name); len(recs) != 0 {
			t.Errorf("example.com TXT %s = %+v, want none", name, recs)
		}
		for _, network := range []string{"udp", "tcp"} {
			rcode, txts := f.queryTXT(t, network, name)
			if rcode != dns.RcodeNameError || len(txts) != 0 {
				t.Errorf("DNS over %s: %s %q, want NXDOMAIN and no TXT", network, dns.RcodeToString[rcode], txts)
			}
		}
	}
	// audited checks the gateway's audit line of the latest UPDATE.
	audited := func(t *testing.T, result, reason string, created, deleted int) {
		t.Helper()
		l := g.lastAudit(t)
		if l.Result != result || !strings.Contains(l.Reason, reason) || l.Key != keyName || l.Created != created || l.Deleted != deleted {
			t.Errorf("audit = %+v, want result %s, reason with %q, key %s, created %d, deleted %d", l, result, reason, keyName, created, deleted)
		}
	}

	t.Run("the Secret's key presents and cleans up the challenge it was granted", func(t *testing.T) {
		// The Issuer's protocol: UDP by default, or TCP.
		for _, protocol := range []string{"", "TCP"} {
			solver := rfc2136Solver(t, data, protocol)
			if solver.TSIGAlgorithm() != dns.HmacSHA256 {
				t.Fatalf("cert-manager maps tsig-algorithm %q to %q, want %q", controllers.TSIGAlgorithm, solver.TSIGAlgorithm(), dns.HmacSHA256)
			}

			if err := solver.Present(domain, fqdn, zone, challengeValue); err != nil {
				t.Fatalf("Present over %q: %v", protocol, err)
			}
			audited(t, "NOERROR", "", 1, 0)
			present(t)
			// cert-manager presents again when a challenge is retried: the
			// gateway finds the record and writes nothing.
			batches := f.apiRequests()["dns_records.batch"]
			if err := solver.Present(domain, fqdn, zone, challengeValue); err != nil {
				t.Fatalf("second Present over %q: %v", protocol, err)
			}
			audited(t, "NOERROR", "nothing to change", 0, 0)
			if n := f.apiRequests()["dns_records.batch"]; n != batches {
				t.Errorf("the second Present wrote %d batches, want none", n-batches)
			}
			present(t)

			if err := solver.CleanUp(domain, fqdn, zone, challengeValue); err != nil {
				t.Fatalf("CleanUp over %q: %v", protocol, err)
			}
			audited(t, "NOERROR", "", 0, 1)
			gone(t)
			ok, err := cmutil.PreCheckDNS(ctx, fqdn, challengeValue, []string{f.dnsAddr}, false)
			if err != nil || ok {
				t.Errorf("PreCheckDNS after CleanUp = %v, %v; want false", ok, err)
			}
			// Cleaning up what is gone is not an error.
			if err := solver.CleanUp(domain, fqdn, zone, challengeValue); err != nil {
				t.Errorf("second CleanUp over %q: %v", protocol, err)
			}
			audited(t, "NOERROR", "nothing to change", 0, 0)
		}
	})

	t.Run("cert-manager's rfc2136 Solver with an Issuer referencing the Secret", func(t *testing.T) {
		// What cert-manager's controller runs: the Issuer's rfc2136 config,
		// the TSIG secret read from the credentials Secret in the Issuer's
		// namespace through a Secret lister.
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: tenantNamespace,
				Name:      controllers.CredentialsSecretName(&v1alpha1.DNSScope{ObjectMeta: metav1.ObjectMeta{Name: scopeName}}),
			},
			Data: maps.Clone(data),
		}
		idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
		if err := idx.Add(secret); err != nil {
			t.Fatal(err)
		}
		solver := rfc2136.New(rfc2136.WithNamespace(tenantNamespace), rfc2136.WithSecretsLister(corelisters.NewSecretLister(idx)))
		cfg, err := json.Marshal(cmacme.ACMEIssuerDNS01ProviderRFC2136{
			Nameserver:    string(data[controllers.KeyNameserver]),
			TSIGKeyName:   string(data[controllers.KeyTSIGName]),
			TSIGAlgorithm: string(data[controllers.KeyTSIGAlgorithm]),
			TSIGSecret: cmmeta.SecretKeySelector{
				LocalObjectReference: cmmeta.LocalObjectReference{Name: secret.Name},
				Key:                  controllers.KeyTSIGSecret,
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		ch := &whapi.ChallengeRequest{
			Type:              "dns-01",
			DNSName:           domain,
			Key:               challengeValue,
			ResourceNamespace: tenantNamespace,
			ResolvedFQDN:      fqdn,
			ResolvedZone:      zone,
			Config:            &apiextensionsv1.JSON{Raw: cfg},
		}
		if err := solver.Present(ch); err != nil {
			t.Fatalf("Present: %v", err)
		}
		audited(t, "NOERROR", "", 1, 0)
		present(t)
		if err := solver.CleanUp(ch); err != nil {
			t.Fatalf("CleanUp: %v", err)
		}
		audited(t, "NOERROR", "", 0, 1)
		gone(t)
	})

	// refused presents with solver for challengeFQDN, expects it to fail with
	// an error containing wantErr and the gateway to answer result for
	// reason, and checks that nothing reached the provider.
	refused := func(t *testing.T, solver *rfc2136.DNSProvider, challengeFQDN, wantErr, result, reason, auditKey string) {
		t.Helper()
		before, requests := f.sim.Records("example.com"), f.apiRequests()
		err := solver.Present(strings.TrimPrefix(challengeFQDN, "_acme-challenge."), challengeFQDN, zone, challengeValue)
		if err == nil {
			t.Fatalf("Present of %s succeeded", challengeFQDN)
		}
		t.Logf("Present of %s: %v", challengeFQDN, err)
		if !strings.Contains(err.Error(), wantErr) {
			t.Errorf("Present error = %v, want one with %q", err, wantErr)
		}
		if strings.Contains(err.Error(), string(data[controllers.KeyTSIGSecret])) {
			t.Error("the error shows the TSIG secret")
		}
		l := g.lastAudit(t)
		if l.Result != result || !strings.Contains(l.Reason, reason) || l.Key != auditKey || l.Created+l.Updated+l.Deleted != 0 {
			t.Errorf("audit = %+v, want result %s, reason with %q, key %s, nothing written", l, result, reason, auditKey)
		}
		if after := f.sim.Records("example.com"); !slices.EqualFunc(before, after, func(a, b sim.Record) bool { return a.ID == b.ID && a.ModifiedOn.Equal(b.ModifiedOn) }) {
			t.Errorf("example.com records changed: before %+v, after %+v", before, after)
		}
		if after := f.apiRequests(); !maps.Equal(requests, after) {
			t.Errorf("the simulator's API saw requests: before %v, after %v; want none", requests, after)
		}
		for _, n := range []string{name, strings.TrimSuffix(challengeFQDN, ".")} {
			if recs := f.txtRecords("example.com", n); len(recs) != 0 {
				t.Errorf("example.com TXT %s = %+v, want none", n, recs)
			}
		}
	}

	t.Run("the key is refused a name it was not granted", func(t *testing.T) {
		const other = "_acme-challenge.other.example.com."
		refused(t, rfc2136Solver(t, data, ""), other, "Server replied: REFUSED", "REFUSED", "is not granted", keyName)
		if rcode, txts := f.queryTXT(t, "udp", other); len(txts) != 0 {
			t.Errorf("DNS: %s %q, want no TXT", dns.RcodeToString[rcode], txts)
		}
	})

	t.Run("a solver without tsigAlgorithm signs with HMAC-MD5 and is refused", func(t *testing.T) {
		noAlg := maps.Clone(data)
		delete(noAlg, controllers.KeyTSIGAlgorithm)
		solver := rfc2136Solver(t, noAlg, "")
		if solver.TSIGAlgorithm() != dns.HmacMD5 {
			t.Fatalf("cert-manager's algorithm without tsigAlgorithm = %q, want %q", solver.TSIGAlgorithm(), dns.HmacMD5)
		}
		// The gateway answers NOTAUTH with an unsigned TSIG RR (BADKEY);
		// miekg/dns in cert-manager's client reports a NOTAUTH answer that
		// carries a TSIG RR as "bad authentication".
		refused(t, solver, fqdn, "DNS update failed: dns: bad authentication", "NOTAUTH", "TSIG BADKEY", keyName)
	})

	t.Run("a wrong secret is refused", func(t *testing.T) {
		wrong := maps.Clone(data)
		wrong[controllers.KeyTSIGSecret] = []byte(newTSIGSecret(t))
		refused(t, rfc2136Solver(t, wrong, ""), fqdn, "DNS update failed: dns: bad authentication", "NOTAUTH", "TSIG BADSIG", keyName)
	})

	t.Run("the key still works after the refusals", func(t *testing.T) {
		solver := rfc2136Solver(t, data, "")
		if err := solver.Present(domain, fqdn, zone, challengeValue); err != nil {
			t.Fatalf("Present: %v", err)
		}
		present(t)
		if err := solver.CleanUp(domain, fqdn, zone, challengeValue); err != nil {
			t.Fatalf("CleanUp: %v", err)
		}
		gone(t)
	})
}
