package certmanager

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// cert-manager's solver sends its requests to the package constant
// cloudflare.CloudFlareAPIURL (https://api.cloudflare.com/client/v4) with an
// http.Client that has no Transport of its own, that is through
// http.DefaultTransport. TestMain replaces http.DefaultTransport with one that
// dials the simulator's TLS listener for api.cloudflare.com:443, trusts a CA
// made up for the test (the listener's certificate is issued by it for
// api.cloudflare.com) and dials nothing but loopback addresses otherwise, so
// no request can leave the machine.

const cloudflareAPIHostPort = "api.cloudflare.com:443"

var (
	// cloudflareAPIAddr is the address connections to api.cloudflare.com:443
	// go to: the TLS listener of the running test's simulator ("" refuses).
	cloudflareAPIAddr atomic.Value // string
	// apiTLS is the certificate for api.cloudflare.com the simulator's TLS
	// listeners present; testCAs trusts its issuer.
	apiTLS  tls.Certificate
	testCAs *x509.CertPool
)

func TestMain(m *testing.M) {
	var err error
	apiTLS, testCAs, err = makeTestPKI("api.cloudflare.com")
	if err != nil {
		fmt.Fprintln(os.Stderr, "test PKI:", err)
		os.Exit(2)
	}
	cloudflareAPIAddr.Store("")
	orig := http.DefaultTransport
	http.DefaultTransport = routingTransport()
	code := m.Run()
	http.DefaultTransport = orig
	os.Exit(code)
}

// routingTransport is http.DefaultTransport with the dialer and trust
// described above, and no proxy.
func routingTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == cloudflareAPIHostPort {
			target := cloudflareAPIAddr.Load().(string)
			if target == "" {
				return nil, errors.New("no simulator is serving api.cloudflare.com")
			}
			return d.DialContext(ctx, network, target)
		}
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("the test dials only the simulator and loopback, not %s", addr)
		}
		return d.DialContext(ctx, network, addr)
	}
	tr.TLSClientConfig = &tls.Config{RootCAs: testCAs, MinVersion: tls.VersionTLS12}
	return tr
}

// makeTestPKI makes a CA and a certificate it issues for host, and returns the
// certificate with its key and a pool trusting the CA.
func makeTestPKI(host string) (tls.Certificate, *x509.CertPool, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "scopedns cert-manager test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool, nil
}
