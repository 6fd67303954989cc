package app

import (
	"strings"
	"testing"
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
