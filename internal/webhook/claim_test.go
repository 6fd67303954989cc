package webhook

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/policy"
)

// concealFixture is a scope granting shared.example.com TXT to every tenant
// namespace, tenants besides the holder's ("team-b", "team-c" and
// "flood-0" to "flood-29"), and
// payroll-prod's claim holding that name; claimIn is a later claim of the
// same name in another namespace.
func concealFixture() (objs []client.Object, claimIn func(ns string) *v1alpha1.DNSRecordClaim) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	scope := &v1alpha1.DNSScope{
		ObjectMeta: metav1.ObjectMeta{Name: "prod", UID: "u1", Generation: 1},
		Spec: v1alpha1.DNSScopeSpec{
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "true"}},
			Zones: []v1alpha1.ZoneGrant{{Name: "example.com", Rules: []v1alpha1.GrantRule{{
				Names: []string{"shared.example.com"}, Types: []v1alpha1.RecordType{"TXT"},
			}}}},
		},
	}
	tenantNS := func(name string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"tenant": "true"}}}
	}
	holder := &v1alpha1.DNSRecordClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "payroll-prod", Name: "secret-project", CreationTimestamp: metav1.NewTime(t0)},
		Spec:       v1alpha1.DNSRecordClaimSpec{ScopeName: "prod", Records: []v1alpha1.RecordSpec{{Name: "shared.example.com", Type: "TXT", TTL: 300}}},
	}
	objs = []client.Object{scope, tenantNS("payroll-prod"), tenantNS("team-b"), tenantNS("team-c"), holder}
	for i := range 30 {
		objs = append(objs, tenantNS(fmt.Sprintf("flood-%d", i)))
	}
	return objs, func(ns string) *v1alpha1.DNSRecordClaim {
		return &v1alpha1.DNSRecordClaim{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", CreationTimestamp: metav1.NewTime(t0.Add(time.Hour))},
			Spec:       v1alpha1.DNSRecordClaimSpec{ScopeName: "prod", Records: []v1alpha1.RecordSpec{{Name: "shared.example.com", Type: "TXT", TTL: 300}}},
		}
	}
}

// TestClaimWebhookConcealsConflictHolders: with ConcealHolders the answer a
// tenant gets for a name another namespace's claim holds says "another
// namespace" and names neither it nor its claim; the operator's log names
// both. Without it the answer names the holder, as before.
func TestClaimWebhookConcealsConflictHolders(t *testing.T) {
	objs, claimIn := concealFixture()
	cases := map[string]struct {
		conceal bool
		// want and omit are substrings of the tenant's answer.
		want, omit []string
		// logged says whether the operator's log names the holder.
		logged bool
	}{
		"with the option off, the answer names the holder's namespace and claim": {
			want: []string{`already claimed by namespace "payroll-prod" (DNSRecordClaim "secret-project")`},
		},
		"with the option on, the answer says another namespace and the log names the holder": {
			conceal: true,
			want:    []string{"shared.example.com TXT already claimed by another namespace"},
			omit:    []string{"payroll-prod", "secret-project"},
			logged:  true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var logs strings.Builder
			ctx := log.IntoContext(context.Background(), funcr.New(func(prefix, args string) { logs.WriteString(args + "\n") }, funcr.Options{}))
			v := &ClaimValidator{Reader: newIndexedReader(objs), Policies: &policy.Cache{}, ConcealHolders: tc.conceal}
			if tc.conceal {
				v.Holders = policy.NewHolderLog(logr.Discard(), nil)
			}
			_, err := v.ValidateCreate(ctx, claimIn("team-b"))
			if err == nil {
				t.Fatal("a name another namespace holds was admitted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("answer %q does not contain %q", err, w)
				}
			}
			for _, o := range tc.omit {
				if strings.Contains(err.Error(), o) {
					t.Errorf("answer %q tells the tenant %q", err, o)
				}
			}
			if got := strings.Contains(logs.String(), "payroll-prod") && strings.Contains(logs.String(), "secret-project"); got != tc.logged {
				t.Errorf("log names the holder: %v, want %v; log:\n%s", got, tc.logged, logs.String())
			}
		})
	}
}

// TestClaimWebhookSamplesConcealedHoldersByNamespace: a tenant that sends
// claims naming another namespace's name as fast as the API server takes
// them (dry runs cost it nothing) gets 5 holder lines a minute into the
// operator's log, then one summary line; thirty namespaces flooding
// together take the minute's 100 lines, and another tenant's refusal in
// the same minute is still logged. Logging every refusal, as before, writes
// 1,000 lines; sampling without a line for each namespace logs none of
// team-c's.
func TestClaimWebhookSamplesConcealedHoldersByNamespace(t *testing.T) {
	objs, claimIn := concealFixture()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var logs strings.Builder
	logger := funcr.New(func(prefix, args string) { logs.WriteString(args + "\n") }, funcr.Options{})
	ctx := log.IntoContext(context.Background(), logger)
	v := &ClaimValidator{Reader: newIndexedReader(objs), Policies: &policy.Cache{}, ConcealHolders: true,
		Holders: policy.NewHolderLog(logger, func() time.Time { return now })}
	refuse := func(ns string) {
		t.Helper()
		if _, err := v.ValidateCreate(ctx, claimIn(ns)); err == nil {
			t.Fatalf("a name payroll-prod holds was admitted to %s", ns)
		}
	}
	lines := func(ns string) int {
		return strings.Count(logs.String(), `"claim"={"name"="web" "namespace"="`+ns+`"}`)
	}
	for range 1000 {
		refuse("team-b")
	}
	if got := lines("team-b"); got != 5 {
		t.Errorf("1,000 refusals of team-b wrote %d holder lines, want 5; log:\n%.2000s", got, logs.String())
	}
	for i := range 30 {
		for range 10 {
			refuse(fmt.Sprintf("flood-%d", i))
		}
	}
	refuse("team-c")
	if got := lines("team-c"); got != 1 {
		t.Errorf("team-c's refusal after 31 namespaces' flood wrote %d holder lines, want 1", got)
	}
	now = now.Add(time.Minute)
	refuse("team-b")
	// team-b's 995; 5 each of flood-0 to flood-18, whose fifth lines made
	// the 100; 9 each of flood-19 to flood-29, which wrote their first.
	if !strings.Contains(logs.String(), `"suppressed"=1189`) || !strings.Contains(logs.String(), `"top"=["team-b=995"`) {
		t.Errorf("no summary of the 1,189 held-back lines naming team-b first; log:\n%s", logs.String()[max(0, logs.Len()-1500):])
	}
	if got := lines("team-b"); got != 6 {
		t.Errorf("the next minute's first refusal of team-b: %d holder lines in all, want 6", got)
	}
}
