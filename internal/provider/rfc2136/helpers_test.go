package rfc2136_test

import (
	"encoding/base64"
	"testing"

	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/rfc2136"
	"github.com/scopedns/scopedns/internal/testdns"
)

const (
	zoneA = "zone-a.test"
	zoneB = "zone-b.test"
)

var (
	master = testdns.Key{Name: "scopedns-master", Secret: base64.StdEncoding.EncodeToString([]byte("master-secret-for-tests-only-32b"))}
	// reader is a key the servers know that may neither update nor transfer.
	reader = testdns.Key{Name: "reader", Secret: base64.StdEncoding.EncodeToString([]byte("reader-secret-for-tests-only-32b"))}
)

// servers are the real name servers the provider is proven against.
var servers = []struct {
	name  string
	start func(testdns.T, testdns.Config) *testdns.Server
}{
	{"bind", testdns.StartBIND},
	{"knot", testdns.StartKnot},
}

func config() testdns.Config {
	return testdns.Config{Zones: []string{zoneA, zoneB}, Master: master, Keys: []testdns.Key{reader}}
}

// connect builds a provider for the server with a key.
func connect(t testing.TB, s *testdns.Server, key testdns.Key, tweak ...func(*rfc2136.Options)) *rfc2136.Provider {
	t.Helper()
	opts := rfc2136.Options{Server: s.Addr, KeyName: key.Name, Algorithm: "HMACSHA256", Secret: provider.Secret(key.Secret), Zones: []string{zoneA, zoneB}}
	for _, f := range tweak {
		f(&opts)
	}
	p, err := rfc2136.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
