// An external test: provider imports grant (its name normalisation is
// grant's), so grant's own tests cannot import provider.
package grant_test

import (
	"testing"

	"github.com/scopedns/scopedns/internal/grant"
	"github.com/scopedns/scopedns/internal/provider"
)

// The grant engine admits what the providers accept: a value it lets
// through is never refused at the provider for its length alone.
func TestTXTLimitIsTheProviders(t *testing.T) {
	if grant.MaxTXTLength != provider.MaxTXTContentLength {
		t.Fatalf("grant.MaxTXTLength is %d, provider.MaxTXTContentLength %d: admission and the provider disagree", grant.MaxTXTLength, provider.MaxTXTContentLength)
	}
}
