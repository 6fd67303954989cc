package chart

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/policy"
	"github.com/scopedns/scopedns/internal/webhook"
)

// The demo in config/samples works as a demo: the scope passes admission,
// selects the claims' namespaces, finds its master Secret, and grants every
// claimed record. (TestManifests applies the same objects to an API server.)
func TestSamplesAreGranted(t *testing.T) {
	var kust struct {
		Resources []string `json:"resources"`
	}
	data, err := os.ReadFile(rel("config", "samples", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &kust); err != nil {
		t.Fatal(err)
	}
	var objs objects
	for _, r := range kust.Resources {
		data, err := os.ReadFile(rel("config", "samples", filepath.FromSlash(r)))
		if err != nil {
			t.Fatal(err)
		}
		o, err := decodeObjects(data)
		if err != nil {
			t.Fatalf("config/samples/%s: %v", r, err)
		}
		objs = append(objs, o...)
	}

	scopes := map[string]*v1alpha1.DNSScope{}
	for _, u := range objs.ofKind("DNSScope") {
		s := into[v1alpha1.DNSScope](t, u)
		scopes[s.Name] = s
		errs, warnings := webhook.ValidateScopeSpec(s, time.Now())
		if len(errs) > 0 {
			t.Errorf("DNSScope %s would be refused at admission: %v", s.Name, errs.ToAggregate())
		}
		for _, w := range warnings {
			t.Logf("DNSScope %s: admission warning: %s", s.Name, w)
		}
		cf := s.Spec.Provider.Cloudflare
		if cf == nil {
			t.Errorf("DNSScope %s: no cloudflare provider", s.Name)
			continue
		}
		u := objs.find("Secret", "scopedns-system", cf.APITokenSecretRef.Name)
		if u == nil {
			t.Errorf("DNSScope %s: master Secret scopedns-system/%s is not in the samples", s.Name, cf.APITokenSecretRef.Name)
			continue
		}
		if sec := into[corev1.Secret](t, u); sec.StringData[cf.APITokenSecretRef.Key] == "" && len(sec.Data[cf.APITokenSecretRef.Key]) == 0 {
			t.Errorf("Secret %s has no key %s", sec.Name, cf.APITokenSecretRef.Key)
		}
	}
	if len(scopes) == 0 {
		t.Fatal("config/samples has no DNSScope")
	}

	claims := objs.ofKind("DNSRecordClaim")
	if len(claims) < 2 {
		t.Fatalf("config/samples has %d DNSRecordClaims, want a few", len(claims))
	}
	seen := map[string]bool{}
	for _, u := range claims {
		c := into[v1alpha1.DNSRecordClaim](t, u)
		seen[c.Namespace] = true
		scope := scopes[c.Spec.ScopeName]
		if scope == nil {
			t.Errorf("claim %s/%s: scope %q is not in the samples", c.Namespace, c.Name, c.Spec.ScopeName)
			continue
		}
		nsObj := objs.find("Namespace", "", c.Namespace)
		if nsObj == nil {
			t.Errorf("claim %s/%s: namespace %s is not in the samples", c.Namespace, c.Name, c.Namespace)
			continue
		}
		if ok, err := policy.Selects(scope, nsObj.GetLabels()); err != nil || !ok {
			t.Errorf("claim %s/%s: scope %s does not select namespace %s (labels %v, %v)", c.Namespace, c.Name, scope.Name, c.Namespace, nsObj.GetLabels(), err)
		}
		for i := range c.Spec.Records {
			if c.Spec.Records[i].TTL == 0 {
				c.Spec.Records[i].TTL = 300 // the CRD's default, applied by the API server
			}
		}
		compiled, err := (*policy.Cache)(nil).Compile(scope)
		if err != nil {
			t.Fatalf("compiling scope %s: %v", scope.Name, err)
		}
		for _, d := range policy.CheckClaim(compiled, c.Namespace, c) {
			if d.Err != nil {
				t.Errorf("claim %s/%s: record %d (%s %s) is refused: %v", c.Namespace, c.Name, d.Index, d.Key.Name, d.Key.Type, d.Err)
			}
		}
	}
	for _, ns := range []string{"team-a", "team-b"} {
		if !seen[ns] {
			t.Errorf("no claim in namespace %s", ns)
		}
	}
}
