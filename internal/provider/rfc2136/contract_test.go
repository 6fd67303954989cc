package rfc2136_test

import (
	"testing"

	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/contract"
	"github.com/scopedns/scopedns/internal/testdns"
)

// TestContract runs the provider contract against BIND and Knot, one server
// per implementation for the whole suite (cases clean up what they write).
func TestContract(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			s := srv.start(t, config())
			p := connect(t, s, master)
			contract.Run(t, func(t *testing.T) contract.Env {
				return contract.Env{
					Provider: p,
					Connect: func(t *testing.T, credential provider.Secret) provider.Provider {
						return connect(t, s, testdns.Key{Name: master.Name, Secret: credential.Reveal()})
					},
					ZoneA:    zoneA,
					ZoneB:    zoneB,
					Cluster:  srv.name,
					NoTokens: true,
				}
			})
		})
	}
}
