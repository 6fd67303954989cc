package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"github.com/scopedns/scopedns/internal/provider/cloudflare"
)

func TestValidateHTTPGateway(t *testing.T) {
	for name, tc := range map[string]struct {
		o    Options
		want string // substring of the error; "": valid
	}{
		"should accept the front door with its URL and certificates": {
			o: Options{HTTPGatewayAddr: ":8053", HTTPGatewayURL: "https://dns-gateway.example.net", HTTPGatewayCertDir: "/certs"}},
		"should accept the front door without a URL (FrontDoorsReady says what is missing)": {
			o: Options{HTTPGatewayAddr: ":8053"}},
		"should accept a URL with a path prefix behind an Ingress": {
			o: Options{HTTPGatewayAddr: ":8053", HTTPGatewayURL: "https://gw.example.net/acme"}},
		"should refuse a certificate directory without the front door": {
			o: Options{HTTPGatewayCertDir: "/certs"}, want: "--http-gateway-cert-dir"},
		"should refuse a URL without a scheme": {
			o: Options{HTTPGatewayAddr: ":8053", HTTPGatewayURL: "dns-gateway.example.net"}, want: "--http-gateway-url"},
		"should refuse a URL of another scheme": {
			o: Options{HTTPGatewayAddr: ":8053", HTTPGatewayURL: "ftp://dns-gateway.example.net"}, want: "absolute http(s) URL"},
		"should refuse a URL carrying a password": {
			o: Options{HTTPGatewayAddr: ":8053", HTTPGatewayURL: "https://u:p@dns-gateway.example.net"}, want: "must not carry a user"},
	} {
		t.Run(name, func(t *testing.T) {
			tc.o.Namespace, tc.o.ClusterName = "scopedns-system", "test"
			err := tc.o.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate: %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

func TestHTTPGatewaySplitsTheBudget(t *testing.T) {
	var co cloudflare.Options
	configureProvider(Options{GatewayAddr: "0", HTTPGatewayAddr: ":8053"})(&co)
	if co.GatewayShare != DefaultGatewayBudgetShare || co.GatewayReplicas != DefaultGatewayReplicas {
		t.Fatalf("with only the HTTP front door: share %v, replicas %d; want the gateway's defaults", co.GatewayShare, co.GatewayReplicas)
	}
}

func TestFrontDoorMux(t *testing.T) {
	named := func(n string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, n) })
	}
	mux := frontDoorMux(named("acme-dns"), named("dyndns2"), named("cloudflare-api"))
	for path, want := range map[string]string{
		"/update": "acme-dns", "/register": "acme-dns", "/health": "acme-dns",
		"/nic/update":      "dyndns2",
		"/client/v4/zones": "cloudflare-api", "/client/v4/user/tokens/verify": "cloudflare-api", "/client/v4/": "cloudflare-api",
		"/client/v5/zones": "404",
		"/":                "404", "/metrics": "404", "/nic/update/x": "404", "/nic/": "404",
	} {
		t.Run("should route "+path+" to "+want, func(t *testing.T) {
			rec := &recorder{header: http.Header{}}
			req, _ := http.NewRequest(http.MethodGet, "http://gw"+path, nil)
			mux.ServeHTTP(rec, req)
			got := rec.body.String()
			if rec.code == http.StatusNotFound {
				got = "404"
			}
			if got != want {
				t.Fatalf("%s answered by %q (code %d), want %q", path, got, rec.code, want)
			}
		})
	}
}

type recorder struct {
	header http.Header
	code   int
	body   strings.Builder
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(c int) { r.code = c }

func TestHTTPGatewayServes(t *testing.T) {
	for name, withTLS := range map[string]bool{
		"should serve plain HTTP without a certificate directory": false,
		"should serve TLS from the certificate directory":         true,
	} {
		t.Run(name, func(t *testing.T) {
			g := &httpGateway{Addr: "127.0.0.1:0", Log: logr.Discard(),
				Handler: frontDoorMux(http.NotFoundHandler(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					_, _ = io.WriteString(w, "good 192.0.2.1")
				}), http.NotFoundHandler())}
			httpClient := &http.Client{Timeout: 10 * time.Second}
			scheme := "http"
			if withTLS {
				g.CertDir = t.TempDir()
				pool := writeServingCert(t, g.CertDir)
				httpClient.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
				scheme = "https"
			}
			addr := make(chan net.Addr, 1)
			g.listening = func(a net.Addr) { addr <- a }
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- g.Start(ctx) }()
			var a net.Addr
			select {
			case a = <-addr:
			case err := <-done:
				t.Fatalf("Start: %v", err)
			}
			resp, err := httpClient.Get(scheme + "://" + a.String() + "/nic/update?hostname=home.example.com")
			if err != nil {
				cancel()
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if string(body) != "good 192.0.2.1" {
				t.Errorf("answer %q", body)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Start returned %v after the context ended, want nil", err)
			}
		})
	}
}

// writeServingCert writes a self-signed certificate for 127.0.0.1 into dir
// as tls.crt and tls.key, and returns a pool trusting it.
func writeServingCert(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "http-gateway"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// A failed TLS handshake, which anyone who reaches the port can cause as
// often as they like, is logged at debug verbosity on the gateway's logger,
// not written to stderr line by line.
func TestHTTPGatewayLogsHandshakeFailuresAtDebug(t *testing.T) {
	lines := make(chan string, 16)
	g := &httpGateway{Addr: "127.0.0.1:0", Handler: http.NotFoundHandler(), CertDir: t.TempDir(),
		Log: funcr.New(func(prefix, args string) { lines <- args }, funcr.Options{Verbosity: 1})}
	writeServingCert(t, g.CertDir)
	addr := make(chan net.Addr, 1)
	g.listening = func(a net.Addr) { addr <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Start(ctx) }()
	defer func() { cancel(); <-done }()
	a := <-addr
	conn, err := net.Dial("tcp", a.String())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n") // plain HTTP to the TLS port
	_, _ = io.ReadAll(conn)
	_ = conn.Close()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l := <-lines:
			if strings.Contains(l, "TLS handshake error") {
				if !strings.Contains(l, `"level"=1`) {
					t.Fatalf("the handshake failure is logged above debug: %s", l)
				}
				return
			}
		case <-deadline:
			t.Fatal("the handshake failure never reached the gateway's logger")
		}
	}
}
