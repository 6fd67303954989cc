// Package webhookcert keeps the admission webhook's serving certificate
// without cert-manager. open-policy-agent/cert-controller issues a CA and a
// serving certificate into a Secret, renews them before they expire and
// injects the CA into the ValidatingWebhookConfiguration; this package writes
// the Secret's pair into the webhook server's CertDir and holds the server
// back until that pair is there.
//
// Every replica runs all of it, leader or not: each serves the webhook and so
// needs the files, and the rotator's Secret updates are optimistic (a replica
// that loses the race re-reads the winner's certificate and keeps it).
package webhookcert

import (
	"fmt"
	"os"

	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// Config names what the rotator keeps and where.
type Config struct {
	// Secret holds ca.crt, ca.key, tls.crt and tls.key. It must exist:
	// cert-controller updates it but never creates it (the chart does).
	Secret types.NamespacedName
	// Service is the webhook Service in Secret's namespace; the certificate
	// is issued for <service>.<namespace>.svc (the name the API server
	// calls) and <service>.<namespace>.svc.cluster.local.
	Service string
	// ExtraDNSNames are further names on the certificate, for webhooks
	// reached by URL rather than through the Service.
	ExtraDNSNames []string
	// WebhookConfig is the ValidatingWebhookConfiguration whose webhooks'
	// caBundle is kept equal to the CA.
	WebhookConfig string
	// CertDir is the webhook server's CertDir: tls.crt and tls.key land there.
	CertDir string
	// ControllerName names the rotator's controller, which must be unique
	// in the process.
	ControllerName string
	// Ready is closed once the files are written and the CA is injected.
	Ready chan struct{}
}

// Add registers the rotator and the file writer with mgr.
func Add(mgr manager.Manager, c Config) error {
	if c.Secret.Namespace == "" || c.Secret.Name == "" || c.Service == "" || c.WebhookConfig == "" || c.CertDir == "" || c.Ready == nil {
		return fmt.Errorf("webhook certificate rotation: incomplete configuration %+v", c)
	}
	if err := os.MkdirAll(c.CertDir, 0o700); err != nil {
		return fmt.Errorf("webhook certificate directory: %w", err)
	}
	svc := fmt.Sprintf("%s.%s.svc", c.Service, c.Secret.Namespace)
	r := &rotator.CertRotator{
		SecretKey:      c.Secret,
		CertDir:        c.CertDir,
		CAName:         "scopedns-webhook-ca",
		CAOrganization: "scopedns",
		DNSName:        svc,
		ExtraDNSNames:  append([]string{svc + ".cluster.local"}, c.ExtraDNSNames...),
		IsReady:        c.Ready,
		Webhooks:       []rotator.WebhookInfo{{Name: c.WebhookConfig, Type: rotator.Validating}},
		FieldOwner:     "scopedns",
		ControllerName: c.ControllerName,
		// Not only the leader: each replica's server needs the files, and
		// IsReady closes only where the rotator runs.
		RequireLeaderElection: false,
	}
	if err := rotator.AddRotator(mgr, r); err != nil {
		return fmt.Errorf("adding the webhook certificate rotator: %w", err)
	}
	// The writer reads the Secret from the API server: its watch is metadata
	// only (below), and a cached typed read could lag the event that woke it
	// and write the certificate before the one the event announced.
	w := &fileWriter{Reader: mgr.GetAPIReader(), Secret: c.Secret, Dir: c.CertDir}
	isSecret := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetNamespace() == c.Secret.Namespace && o.GetName() == c.Secret.Name
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("webhook-cert-files").
		// Metadata only: the watch shares the manager's Secret cache, whose
		// cluster-wide part is tenants' labelled Secrets; a typed watch would
		// list their data.
		For(&corev1.Secret{}, builder.OnlyMetadata, builder.WithPredicates(isSecret)).
		WithOptions(controller.Options{NeedLeaderElection: ptr.To(false)}).
		Complete(w)
}
