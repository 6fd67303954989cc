package webhookcert

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/yaml"

	"github.com/scopedns/scopedns/internal/app"
	"github.com/scopedns/scopedns/internal/testports"
)

// freeAddr is a 127.0.0.1 address whose port is free for TCP, picked below
// the ephemeral range so no client connection takes it before the server
// binds it.
func freeAddr() string {
	addr, err := testports.TCP()
	Expect(err).NotTo(HaveOccurred())
	return addr
}

// replica is one manager, as one pod of the Deployment would run it.
type replica struct {
	name        string
	webhookAddr string
	probeAddr   string
	mgr         manager.Manager
}

func newReplica(name string) *replica {
	return &replica{name: name, webhookAddr: freeAddr(), probeAddr: freeAddr()}
}

// start runs a manager with rotation on, serving the webhook on 127.0.0.1
// with its own CertDir, as each pod has its own.
func (r *replica) start() {
	name := r.name
	_, port, err := net.SplitHostPort(r.webhookAddr)
	Expect(err).NotTo(HaveOccurred())
	p, err := strconv.Atoi(port)
	Expect(err).NotTo(HaveOccurred())
	r.mgr, err = app.New(cfg, app.Options{
		Namespace: opNS, ClusterName: "certs", MetricsAddr: "0", ProbeAddr: r.probeAddr,
		LeaderElection: true, SkipNameValidation: true, MaxBackoff: 2 * time.Second,
		WebhookHost: "127.0.0.1", WebhookPort: p, WebhookCertDir: GinkgoT().TempDir(),
		WebhookCertRotation: true, WebhookCertSecret: certSecret,
		WebhookServiceName: serviceName, WebhookConfigName: webhookConfig,
		// The API server reaches these webhooks by URL, not through the Service.
		WebhookCertExtraDNSNames: []string{"localhost"},
	})
	Expect(err).NotTo(HaveOccurred())
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.mgr.Start(mctx) }()
	DeferCleanup(func() {
		stop()
		Eventually(done, time.Minute).Should(Receive(BeNil()), "manager %s stopped with an error", name)
	})
}

// ready asks the replica's readiness probe, as the kubelet would.
func (r *replica) ready() error {
	resp, err := http.Get("http://" + r.probeAddr + "/readyz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz: %s", resp.Status)
	}
	return nil
}

// served dials the replica's webhook port and returns the certificate it
// serves, verified against caPEM for localhost, the name the API server
// dials: a certificate the API server would refuse is an error here too.
func (r *replica) served(caPEM []byte) (*x509.Certificate, error) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no CA certificate to verify with")
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", r.webhookAddr,
		&tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

// certs is what the Secret holds, by fingerprint: the test compares
// certificates and never prints a key.
type certs struct {
	leaf, ca string // SHA-256 of each certificate's DER, short
	caPEM    []byte
	pairErr  error // why tls.crt and tls.key are not a usable pair
}

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:8])
}

func pemFingerprint(p []byte) string {
	b, _ := pem.Decode(p)
	if b == nil {
		return ""
	}
	return fingerprint(b.Bytes)
}

func secretCerts() (certs, error) {
	var s corev1.Secret
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: opNS, Name: certSecret}, &s); err != nil {
		return certs{}, err
	}
	_, pairErr := tls.X509KeyPair(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey])
	return certs{
		leaf: pemFingerprint(s.Data[corev1.TLSCertKey]), ca: pemFingerprint(s.Data["ca.crt"]),
		caPEM: s.Data["ca.crt"], pairErr: pairErr,
	}, nil
}

// issued waits until the Secret holds a usable pair and a CA whose
// certificates differ from the ones given (empty: any), and returns it.
func issued(notLeaf, notCA string) certs {
	var c certs
	EventuallyWithOffset(1, func(g Gomega) {
		var err error
		c, err = secretCerts()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(c.pairErr).NotTo(HaveOccurred(), "tls.crt and tls.key")
		g.Expect(c.ca).NotTo(BeEmpty(), "ca.crt")
		g.Expect(c.leaf).NotTo(Equal(notLeaf), "tls.crt was not replaced")
		g.Expect(c.ca).NotTo(Equal(notCA), "ca.crt was not replaced")
	}).Should(Succeed())
	return c
}

// webhookConfiguration is config/webhook/manifests.yaml, the webhooks the
// manager registers, pointed at URLs instead of the Service and with no CA:
// the rotator has to fill it in.
func webhookConfiguration(urls map[string]string) *admissionv1.ValidatingWebhookConfiguration {
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "webhook", "manifests.yaml"))
	Expect(err).NotTo(HaveOccurred())
	var vwc admissionv1.ValidatingWebhookConfiguration
	Expect(yaml.Unmarshal(raw, &vwc)).To(Succeed())
	vwc.Name = webhookConfig
	for i := range vwc.Webhooks {
		w := &vwc.Webhooks[i]
		base, ok := urls[w.Name]
		Expect(ok).To(BeTrue(), "no replica chosen for webhook %s", w.Name)
		url := base + *w.ClientConfig.Service.Path
		w.ClientConfig = admissionv1.WebhookClientConfig{URL: &url}
	}
	return &vwc
}

// caBundles returns the caBundle of each webhook.
func caBundles() ([]string, error) {
	var vwc admissionv1.ValidatingWebhookConfiguration
	if err := k8s.Get(ctx, client.ObjectKey{Name: webhookConfig}, &vwc); err != nil {
		return nil, err
	}
	out := make([]string, len(vwc.Webhooks))
	for i, w := range vwc.Webhooks {
		out[i] = pemFingerprint(w.ClientConfig.CABundle)
	}
	return out, nil
}

func statusMessage(err error) string {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		return st.Status().Message
	}
	return fmt.Sprint(err)
}
