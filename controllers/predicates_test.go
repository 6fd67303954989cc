package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

func TestScopeChangeMattersIgnoresOnlyTheCounts(t *testing.T) {
	base := func() *v1alpha1.DNSScope {
		s := &v1alpha1.DNSScope{ObjectMeta: metav1.ObjectMeta{Name: "s", Generation: 3}}
		s.Status.Claims, s.Status.Namespaces = 10, 2
		s.Status.Zones = []v1alpha1.ZoneStatus{{Name: "example.com", ID: "z1"}}
		s.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonReconciled}}
		return s
	}
	now := metav1.Now()
	for name, tc := range map[string]struct {
		edit func(*v1alpha1.DNSScope)
		want bool
	}{
		"claim count":       {func(s *v1alpha1.DNSScope) { s.Status.Claims = 11 }, false},
		"namespace count":   {func(s *v1alpha1.DNSScope) { s.Status.Namespaces = 3 }, false},
		"nothing":           {func(*v1alpha1.DNSScope) {}, false},
		"spec (generation)": {func(s *v1alpha1.DNSScope) { s.Generation++ }, true},
		"deletion":          {func(s *v1alpha1.DNSScope) { s.DeletionTimestamp = &now }, true},
		"readiness":         {func(s *v1alpha1.DNSScope) { s.Status.Conditions[0].Status = metav1.ConditionFalse }, true},
		"zone resolved":     {func(s *v1alpha1.DNSScope) { s.Status.Zones[0].ID = "z2" }, true},
		"zone added": {func(s *v1alpha1.DNSScope) {
			s.Status.Zones = append(s.Status.Zones, v1alpha1.ZoneStatus{Name: "b.com"})
		}, true},
		"counts with readiness": {func(s *v1alpha1.DNSScope) { s.Status.Claims = 0; s.Status.Conditions = nil }, true},
	} {
		o, n := base(), base()
		tc.edit(n)
		if got := scopeChangeMatters(o, n); got != tc.want {
			t.Errorf("%s: scopeChangeMatters = %v, want %v", name, got, tc.want)
		}
	}
}

func TestClaimChangeMattersIgnoresStatus(t *testing.T) {
	base := func() *v1alpha1.DNSRecordClaim {
		c := &v1alpha1.DNSRecordClaim{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "a", Generation: 1}}
		c.Status.Zones = []string{"example.com"}
		c.Status.Records = []v1alpha1.RecordStatus{{Name: "www.example.com", Type: "A", State: v1alpha1.RecordReserved}}
		return c
	}
	now := metav1.Now()
	for name, tc := range map[string]struct {
		edit func(*v1alpha1.DNSRecordClaim)
		want bool
	}{
		"conditions only": {func(c *v1alpha1.DNSRecordClaim) {
			c.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue}}
		}, false},
		"spec (generation)": {func(c *v1alpha1.DNSRecordClaim) { c.Generation++ }, true},
		"deletion":          {func(c *v1alpha1.DNSRecordClaim) { c.DeletionTimestamp = &now }, true},
		"annotation":        {func(c *v1alpha1.DNSRecordClaim) { c.Annotations = map[string]string{"touched": "now"} }, true},
		// The claim controller's own status patch: no verdict reads it.
		"zones":        {func(c *v1alpha1.DNSRecordClaim) { c.Status.Zones = nil }, false},
		"record state": {func(c *v1alpha1.DNSRecordClaim) { c.Status.Records[0].State = v1alpha1.RecordWritten }, false},
	} {
		o, n := base(), base()
		tc.edit(n)
		if got := claimChangeMatters(o, n); got != tc.want {
			t.Errorf("%s: claimChangeMatters = %v, want %v", name, got, tc.want)
		}
	}
}

func TestJitterStaysWithinATenth(t *testing.T) {
	const d = 10 * time.Minute
	seen := map[time.Duration]bool{}
	for range 200 {
		j := jitter(d)
		if j < d || j > d+d/10 {
			t.Fatalf("jitter(%s) = %s, outside [d, 1.1d]", d, j)
		}
		seen[j] = true
	}
	if len(seen) < 100 {
		t.Fatalf("200 jittered intervals took only %d values", len(seen))
	}
	if jitter(0) != 0 {
		t.Fatal("jitter(0) != 0")
	}
}

func TestKeysLetGoPassesWhatChangesTheHeldKeys(t *testing.T) {
	base := func() *v1alpha1.DNSRecordClaim {
		c := &v1alpha1.DNSRecordClaim{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "a", Generation: 1}}
		c.Spec.Records = []v1alpha1.RecordSpec{{Name: "www.example.com", Type: v1alpha1.RecordTypeA}}
		return c
	}
	now := metav1.Now()
	for name, tc := range map[string]struct {
		edit func(*v1alpha1.DNSRecordClaim)
		want bool
	}{
		"conditions only": {func(c *v1alpha1.DNSRecordClaim) {
			c.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue}}
		}, false},
		"a record written": {func(c *v1alpha1.DNSRecordClaim) {
			c.Status.Records = []v1alpha1.RecordStatus{{Name: "www.example.com", Type: "A", State: v1alpha1.RecordWritten}}
		}, false},
		"a record refused": {func(c *v1alpha1.DNSRecordClaim) {
			c.Status.Records = []v1alpha1.RecordStatus{{Name: "www.example.com", Type: "A", State: v1alpha1.RecordRefused}}
		}, true},
		"a record in conflict": {func(c *v1alpha1.DNSRecordClaim) {
			c.Status.Records = []v1alpha1.RecordStatus{{Name: "www.example.com", Type: "A", State: v1alpha1.RecordConflict}}
		}, true},
		"spec (generation)": {func(c *v1alpha1.DNSRecordClaim) { c.Generation++ }, true},
		"deletion":          {func(c *v1alpha1.DNSRecordClaim) { c.DeletionTimestamp = &now }, true},
	} {
		o, n := base(), base()
		tc.edit(n)
		if got := keysLetGo.Update(event.UpdateEvent{ObjectOld: o, ObjectNew: n}); got != tc.want {
			t.Errorf("%s: keysLetGo = %v, want %v", name, got, tc.want)
		}
	}
	if keysLetGo.Create(event.CreateEvent{Object: base()}) {
		t.Error("a new claim passed: it takes no key from an older one")
	}
}
