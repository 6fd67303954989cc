package controllers

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/memory"
)

// noTokens is a provider that mints no tokens and fails the test if it is
// asked for them.
type noTokens struct {
	provider.Provider
	t *testing.T
}

func (noTokens) MintsTokens() bool { return false }

func (p noTokens) Tokens(context.Context, string) ([]provider.Token, error) {
	p.t.Error("the sweep listed tokens of a provider that mints none")
	return nil, nil
}

type staticSource struct{ p provider.Provider }

func (s staticSource) For(context.Context, *v1alpha1.DNSScope) (provider.Provider, error) {
	return s.p, nil
}

func TestTheSweepSkipsProvidersThatMintNoTokens(t *testing.T) {
	scope := &v1alpha1.DNSScope{
		ObjectMeta: metav1.ObjectMeta{Name: "selfhosted"},
		Spec: v1alpha1.DNSScopeSpec{Provider: v1alpha1.ProviderSpec{RFC2136: &v1alpha1.RFC2136Provider{
			Server: "ns1.example.com:53", TSIGKeyName: "master", TSIGKeySecretRef: v1alpha1.SecretKeySelector{Name: "m", Key: "k"},
		}}},
		Status: v1alpha1.DNSScopeStatus{Conditions: []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonReconciled}}},
	}
	cl := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(scope).Build()
	s := &TokenSweeper{Client: cl, ClusterName: "it", Providers: staticSource{noTokens{Provider: memory.New(memory.Config{}).Master(), t: t}}}
	n, err := s.Sweep(context.Background())
	if err != nil || n != 0 {
		t.Fatalf("Sweep = %d, %v; want 0, nil", n, err)
	}
}
