package restart

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
)

// grantScope grants each labelled namespace A and TXT records one label
// under <namespace>.example.com and <namespace>.example.net.
func grantScope() *v1alpha1.DNSScope {
	types := []v1alpha1.RecordType{v1alpha1.RecordTypeA, v1alpha1.RecordTypeTXT}
	return &v1alpha1.DNSScope{
		ObjectMeta: metav1.ObjectMeta{Name: scopeName},
		Spec: v1alpha1.DNSScopeSpec{
			Provider: v1alpha1.ProviderSpec{Cloudflare: &v1alpha1.CloudflareProvider{
				AccountID: account, BaseURL: cfURL,
				APITokenSecretRef: v1alpha1.SecretKeySelector{Name: "cloudflare-master", Key: "api-token"},
			}},
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{tenantLabel: "true"}},
			Zones: []v1alpha1.ZoneGrant{
				{Name: "example.com", Rules: []v1alpha1.GrantRule{{Names: []string{"*.{namespace}.example.com"}, Types: types}}},
				{Name: "example.net", Rules: []v1alpha1.GrantRule{{Names: []string{"*.{namespace}.example.net"}, Types: types}}},
			},
		},
	}
}

func claim(ns, name string, records ...v1alpha1.RecordSpec) *v1alpha1.DNSRecordClaim {
	return &v1alpha1.DNSRecordClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1alpha1.DNSRecordClaimSpec{ScopeName: scopeName, Records: records},
	}
}

func a(name string, values ...string) v1alpha1.RecordSpec {
	return v1alpha1.RecordSpec{Name: name, Type: v1alpha1.RecordTypeA, TTL: 300, Values: values}
}

func txt(name string, values ...string) v1alpha1.RecordSpec {
	return v1alpha1.RecordSpec{Name: name, Type: v1alpha1.RecordTypeTXT, TTL: 300, Values: values}
}

// claims is what the test last asked for: the records of each live claim.
type claims map[client.ObjectKey][]v1alpha1.RecordSpec

// apply creates the claim or replaces its records, retrying while the API
// server or the webhook (served by a manager that may be restarting) is away.
func (w claims) apply(c *v1alpha1.DNSRecordClaim) {
	GinkgoHelper()
	key := client.ObjectKeyFromObject(c)
	Eventually(func() error {
		var cur v1alpha1.DNSRecordClaim
		err := k8s.Get(ctx, key, &cur)
		if apierrors.IsNotFound(err) {
			return k8s.Create(ctx, c.DeepCopy())
		}
		if err != nil {
			return err
		}
		cur.Spec = c.Spec
		return k8s.Update(ctx, &cur)
	}, 60*time.Second, 100*time.Millisecond).Should(Succeed(), "writing claim %s", key)
	w[key] = c.Spec.Records
}

// remove deletes a claim; its finalizer holds it until its records are gone.
func (w claims) remove(ns, name string) {
	GinkgoHelper()
	key := client.ObjectKey{Namespace: ns, Name: name}
	Eventually(func() error {
		return ignore(apierrors.IsNotFound, k8s.Delete(ctx, &v1alpha1.DNSRecordClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}))
	}, 60*time.Second, 100*time.Millisecond).Should(Succeed(), "deleting claim %s", key)
	delete(w, key)
}

// ready counts the claims Ready now, for the log.
func (w claims) ready() int {
	n := 0
	for key := range w {
		var c v1alpha1.DNSRecordClaim
		if k8s.Get(ctx, key, &c) == nil && meta.IsStatusConditionTrue(c.Status.Conditions, v1alpha1.ConditionReady) {
			n++
		}
	}
	return n
}

// records lists the provider records the claims ask for, one per value, in
// the form recordsAtProvider reports.
func (w claims) records() []string {
	var out []string
	for key, recs := range w {
		for _, r := range recs {
			for _, v := range r.Values {
				out = append(out, recordString(r.Name, string(r.Type), v, provider.OwnerComment(cluster, key.Namespace, key.Name)))
			}
		}
	}
	slices.Sort(out)
	return out
}

// recordsAtProvider lists every record of the simulator's zones.
func recordsAtProvider() []string {
	var out []string
	for _, zone := range []string{"example.com", "example.net"} {
		for _, r := range cf.Records(zone) {
			if provider.NormalizeName(r.Name) == provider.ClusterMarkerName(zone) {
				continue // the installation's own marker, not a claimed record (tested in test/integration)
			}
			content := r.Content
			if r.Type == "TXT" {
				content = strings.Trim(content, `"`)
			}
			out = append(out, recordString(r.Name, r.Type, content, r.Comment))
		}
	}
	return out
}

func recordString(name, typ, content, comment string) string {
	return fmt.Sprintf("%s %s %s (%s)", name, typ, content, comment)
}

// tokensOfCluster lists the simulator's tokens minted by this cluster.
func tokensOfCluster() []sim.TokenInfo {
	var out []sim.TokenInfo
	for _, t := range cf.Tokens() {
		if parts, ok := provider.ParseTokenName(t.Name); ok && parts.Cluster == cluster {
			out = append(out, t)
		}
	}
	return out
}

// mintsAnnounced lists the namespaces whose DNSCredential announces a
// mint not yet recorded.
func mintsAnnounced() []string {
	var creds v1alpha1.DNSCredentialList
	if err := k8s.List(ctx, &creds); err != nil {
		return nil
	}
	var out []string
	for _, c := range creds.Items {
		if c.Status.Minting != "" {
			out = append(out, c.Spec.Namespace)
		}
	}
	return out
}

// writeTXT writes and removes a TXT record with a tenant's token, as a
// DNS-01 solver would.
func writeTXT(token provider.Secret, zone, name string) error {
	p, err := cloudflare.New(cloudflare.Options{AccountID: account, APIToken: token, BaseURL: cfURL, MaxRetries: -1, RateLimit: -1})
	if err != nil {
		return err
	}
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := p.ApplyChanges(c, cf.ZoneID(zone), provider.Changes{Create: []provider.Record{{Name: name, Type: "TXT", Content: "check", TTL: 60}}})
	if err != nil {
		return err
	}
	_, err = p.ApplyChanges(c, cf.ZoneID(zone), provider.Changes{Delete: res.Created})
	return err
}

// ignore returns nil for errors matching is.
func ignore(is func(error) bool, err error) error {
	if err != nil && is(err) {
		return nil
	}
	return err
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
