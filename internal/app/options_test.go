package app

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/scopedns/scopedns/internal/provider/cloudflare"
)

func TestValidateWebhookCertRotation(t *testing.T) {
	base := func() Options {
		return Options{
			Namespace: "scopedns-system", ClusterName: "test",
			WebhookCertRotation: true, WebhookCertSecret: "scopedns-webhook-cert",
			WebhookServiceName: "scopedns-webhook-service", WebhookConfigName: "scopedns-validating-webhook-configuration",
		}
	}
	tests := map[string]struct {
		edit func(*Options)
		want []string // substrings of the error; none: valid
	}{
		"should accept rotation with its Secret, Service and webhook configuration named": {
			edit: func(*Options) {},
		},
		"should accept no rotation without those names": {
			edit: func(o *Options) { *o = Options{Namespace: o.Namespace, ClusterName: o.ClusterName} },
		},
		"should name every missing flag at once": {
			edit: func(o *Options) { o.WebhookCertSecret, o.WebhookServiceName, o.WebhookConfigName = "", "", "" },
			want: []string{"--webhook-cert-secret", "--webhook-service-name", "--webhook-config-name"},
		},
		"should refuse a negative record GC interval or grace, naming each flag": {
			edit: func(o *Options) { o.RecordGCInterval, o.RecordGCGrace = -1, -1 },
			want: []string{"--record-gc-interval: -1ns is negative", "--record-gc-grace: -1ns is negative"},
		},
		"should refuse rotation with the webhooks disabled": {
			edit: func(o *Options) { o.DisableWebhooks = true },
			want: []string{"--webhook-cert-rotation: the webhooks are disabled"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o := base()
			tc.edit(&o)
			err := o.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate accepted %+v", o)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestGatewayBudgetOptions(t *testing.T) {
	tests := map[string]struct {
		o         Options
		wantErr   string
		wantShare float64
		wantReps  int
	}{
		"should give the gateway half on one replica by default": {
			o: Options{GatewayAddr: ":5353"}, wantShare: DefaultGatewayBudgetShare, wantReps: 1,
		},
		"should pass the share and replicas as set": {
			o: Options{GatewayAddr: ":5353", GatewayBudgetShare: 0.25, GatewayReplicas: 3}, wantShare: 0.25, wantReps: 3,
		},
		"should not split the budget when the gateway is off": {
			o: Options{GatewayAddr: "0", GatewayBudgetShare: 0.25, GatewayReplicas: 3},
		},
		"should refuse a share that leaves the reconciles nothing": {
			o: Options{GatewayBudgetShare: 1}, wantErr: "--gateway-budget-share",
		},
		"should refuse negative replicas": {
			o: Options{GatewayReplicas: -1}, wantErr: "--gateway-replicas",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.o.Namespace, tc.o.ClusterName = "scopedns-system", "test"
			err := tc.o.Validate()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Validate: %v, want an error naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			var co cloudflare.Options
			configureProvider(tc.o)(&co)
			if co.GatewayShare != tc.wantShare || co.GatewayReplicas != tc.wantReps {
				t.Fatalf("provider options: share %v, replicas %d; want %v, %d", co.GatewayShare, co.GatewayReplicas, tc.wantShare, tc.wantReps)
			}
		})
	}
}

func TestSecretTransformKeepsNoTenantValues(t *testing.T) {
	big := map[string][]byte{"blob": make([]byte, 1<<20)}
	for name, tc := range map[string]struct {
		namespace string
		keepData  bool
	}{
		"a tenant's Secret loses its values and annotations": {namespace: "team-a", keepData: false},
		"a Secret of the operator's namespace is kept whole": {namespace: "scopedns-system", keepData: true},
	} {
		t.Run(name, func(t *testing.T) {
			in := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: tc.namespace, Name: "s",
					Labels:      map[string]string{"app.kubernetes.io/managed-by": "scopedns"},
					Annotations: map[string]string{"note": strings.Repeat("x", 1000)}},
				Data: big,
			}
			out, err := SecretTransform("scopedns-system")(in)
			if err != nil {
				t.Fatal(err)
			}
			s := out.(*corev1.Secret)
			if got := len(s.Data) > 0 || len(s.Annotations) > 0; got != tc.keepData {
				t.Fatalf("values kept = %v, want %v", got, tc.keepData)
			}
			if s.Labels["app.kubernetes.io/managed-by"] != "scopedns" || s.Name != "s" {
				t.Fatalf("the watch needs name and labels, got %v", s.ObjectMeta)
			}
		})
	}
}

func TestSecretTransformTrimsTenantMetadataToTheRoutingLabels(t *testing.T) {
	many := map[string]string{"app.kubernetes.io/managed-by": "scopedns", "scopedns.io/scope": "prod"}
	for i := range 1000 {
		many[fmt.Sprintf("scopedns.io/padding-%d", i)] = strings.Repeat("x", 63)
	}
	in := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Namespace: "team-a", Name: "s", Labels: many,
		Annotations:     map[string]string{"note": strings.Repeat("x", 1000)},
		Finalizers:      []string{strings.Repeat("example.com/f", 100)},
		OwnerReferences: []metav1.OwnerReference{{Name: strings.Repeat("o", 200)}},
	}}
	out, err := SecretTransform("scopedns-system")(in)
	if err != nil {
		t.Fatal(err)
	}
	m := out.(*metav1.PartialObjectMetadata)
	if len(m.Labels) != 2 || m.Labels["scopedns.io/scope"] != "prod" || m.Labels["app.kubernetes.io/managed-by"] != "scopedns" {
		t.Fatalf("kept %d labels, want only the two routing labels", len(m.Labels))
	}
	if m.Annotations != nil || m.Finalizers != nil || m.OwnerReferences != nil {
		t.Fatalf("kept annotations %d, finalizers %d, owner references %d", len(m.Annotations), len(m.Finalizers), len(m.OwnerReferences))
	}
}
