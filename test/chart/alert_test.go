package chart

import (
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// quotaAlert is the one shape of the token quota alert's expression: the
// manager's two gauges, per cluster, compared with a fraction.
var quotaAlert = regexp.MustCompile(`^max by \(cluster\) \((scopedns_provider_tokens_held)\) / max by \(cluster\) \((scopedns_provider_token_quota)\) >= ([0-9.]+)$`)

// TestTokenQuotaAlertFiresAt80Percent reads the rendered PrometheusRule's
// expression (promtool is not at hand) and evaluates it on the counts either
// side of 80 % of the quota.
func TestTokenQuotaAlertFiresAt80Percent(t *testing.T) {
	objs := load(t, filepath.Join(renderChart(t), "full.yaml")).ofKind("PrometheusRule")
	if len(objs) != 1 {
		t.Fatalf("full.yaml renders %d PrometheusRules, want 1", len(objs))
	}
	groups, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "groups")
	var expr string
	for _, g := range groups {
		rules, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, r := range rules {
			if r := r.(map[string]any); r["alert"] == "ScopeDNSTokenQuotaNearlyExhausted" {
				expr, _ = r["expr"].(string)
			}
		}
	}
	m := quotaAlert.FindStringSubmatch(expr)
	if m == nil {
		t.Fatalf("ScopeDNSTokenQuotaNearlyExhausted expr %q, want the shape %s", expr, quotaAlert)
	}
	threshold, err := strconv.ParseFloat(m[3], 64)
	if err != nil {
		t.Fatal(err)
	}
	fires := func(held, quota float64) bool { return held/quota >= threshold }
	cases := map[string]struct {
		held, quota float64
		want        bool
	}{
		"stays quiet at 399 of 500":   {399, 500, false},
		"fires at 400 of 500 (80 %)":  {400, 500, true},
		"fires at the quota":          {500, 500, true},
		"stays quiet at 79 % of 1000": {790, 1000, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := fires(tc.held, tc.quota); got != tc.want {
				t.Fatalf("fires = %v at %v of %v (threshold %v), want %v", got, tc.held, tc.quota, threshold, tc.want)
			}
		})
	}
}
