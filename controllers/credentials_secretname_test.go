package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

func TestSecretNameWinner(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cred := func(name string, created time.Time) *v1alpha1.DNSCredential {
		return &v1alpha1.DNSCredential{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.Time{Time: created}}}
	}
	cases := map[string]struct {
		creds []*v1alpha1.DNSCredential
		want  string
	}{
		"the only contender holds the name": {
			creds: []*v1alpha1.DNSCredential{cred("a.team", t0)}, want: "a.team",
		},
		"the older DNSCredential wins whatever its name": {
			creds: []*v1alpha1.DNSCredential{cred("a.team", t0.Add(time.Second)), cred("z.team", t0)}, want: "z.team",
		},
		"a tie in the second is broken by name, in any order": {
			creds: []*v1alpha1.DNSCredential{cred("b.team", t0), cred("a.team", t0), cred("c.team", t0)}, want: "a.team",
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := secretNameWinner(c.creds).Name; got != c.want {
				t.Fatalf("winner %s, want %s", got, c.want)
			}
		})
	}
}
