package certmanager

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/rfc2136"

	"github.com/scopedns/scopedns/controllers"
	"github.com/scopedns/scopedns/internal/gateway"
)

const (
	// gatewayCluster is the gateway's ClusterName, in the owner comment of
	// the records it writes.
	gatewayCluster = "it"
	// tenantNamespace and scopeName say whose TSIG key the test holds.
	tenantNamespace = "team-a"
	scopeName       = "prod"
)

// gatewayFixture is scopedns's RFC 2136 gateway on loopback UDP and TCP,
// writing through scopedns's Cloudflare provider with the master token to
// the fixture's simulator, as the operator runs it; it keeps the gateway's
// audit log.
type gatewayFixture struct {
	addr string
	logs syncBuffer
}

// startGateway starts the gateway with keys for scope scopeName and stops it
// when the test ends.
func (f *fixture) startGateway(t *testing.T, keys gateway.Keys) *gatewayFixture {
	t.Helper()
	master := f.master(t)
	g := &gatewayFixture{}
	srv, err := gateway.New(gateway.Options{
		Addr: "127.0.0.1:0",
		Keys: keys,
		Writers: gateway.WritersFunc(func(_ context.Context, scope string) (gateway.Writer, error) {
			if scope != scopeName {
				return nil, fmt.Errorf("no scope %q", scope)
			}
			return master, nil
		}),
		ClusterName: gatewayCluster,
		Logger:      slog.New(slog.NewJSONHandler(&g.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("gateway Start: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("the gateway did not start")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway Start returned %v", err)
		}
	})
	g.addr = srv.Addr()
	return g
}

// auditLine is one line of the gateway's audit log (one per UPDATE).
type auditLine struct {
	Level, Result, Reason     string
	Key, Namespace, Zone      string
	Names, Types              []string
	Created, Updated, Deleted int
}

// audit is the gateway's audit log so far.
func (g *gatewayFixture) audit(t *testing.T) []auditLine {
	t.Helper()
	var out []auditLine
	sc := bufio.NewScanner(bytes.NewReader(g.logs.Bytes()))
	for sc.Scan() {
		var l auditLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		if l.Result != "" {
			out = append(out, l)
		}
	}
	return out
}

// lastAudit is the audit line of the latest UPDATE; the test fails without
// one.
func (g *gatewayFixture) lastAudit(t *testing.T) auditLine {
	t.Helper()
	lines := g.audit(t)
	if len(lines) == 0 {
		t.Fatal("the gateway logged no UPDATE")
	}
	return lines[len(lines)-1]
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.b.Bytes())
}

// newTSIGSecret is a secret as the operator draws it: 32 random bytes,
// base64.
func newTSIGSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// credentialsData is the RFC 2136 part of the data of namespace's
// credentials Secret for scope as the operator writes it (controllers'
// ensureTSIG), with the gateway at nameserver.
func credentialsData(t *testing.T, namespace, scope, nameserver string) map[string][]byte {
	t.Helper()
	return map[string][]byte{
		controllers.KeyTSIGName:      []byte(controllers.TSIGKeyName(namespace, scope)),
		controllers.KeyTSIGAlgorithm: []byte(controllers.TSIGAlgorithm),
		controllers.KeyTSIGSecret:    []byte(newTSIGSecret(t)),
		controllers.KeyNameserver:    []byte(nameserver),
	}
}

// gatewayKey is the gateway key the operator derives from the Secret's data
// (controllers' GatewayKeysReconciler): the key name and algorithm it hands
// out, the Secret's current TSIG secret, and what the namespace reserved.
func gatewayKey(data map[string][]byte, namespace, scope string, zones map[string]string, grants map[gateway.Grant]int32) gateway.Key {
	return gateway.Key{
		Name:      controllers.TSIGKeyName(namespace, scope),
		Algorithm: controllers.TSIGAlgorithm,
		Secrets:   []string{string(data[controllers.KeyTSIGSecret])},
		Namespace: namespace,
		Scope:     scope,
		Zones:     zones,
		Grants:    grants,
	}
}

// rfc2136Solver is cert-manager's rfc2136 DNS provider built from the
// Secret's values as cert-manager builds it for an Issuer whose rfc2136
// solver has nameserver, tsigKeyName and tsigAlgorithm copied from the
// Secret and tsigSecretSecretRef pointing at its tsig-secret; protocol is
// the Issuer's protocol ("" for the UDP default, or "TCP").
func rfc2136Solver(t *testing.T, data map[string][]byte, protocol string) *rfc2136.DNSProvider {
	t.Helper()
	p, err := rfc2136.NewDNSProviderCredentials(
		string(data[controllers.KeyNameserver]),
		string(data[controllers.KeyTSIGAlgorithm]),
		string(data[controllers.KeyTSIGName]),
		string(data[controllers.KeyTSIGSecret]),
		rfc2136.WithNetwork(protocol),
	)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// apiRequests are the simulator's API request counts by operation, DNS
// queries left out.
func (f *fixture) apiRequests() map[string]int {
	m := f.sim.Requests()
	delete(m, "dns.query")
	return m
}
