package webhookcert

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// fileWriter copies the serving certificate and key from the Secret into the
// webhook server's CertDir, on every replica.
//
// cert-controller keeps the pair in the Secret only: it expects the Secret to
// be mounted as a volume, and the kubelet refreshes such volumes a minute or
// more after a change. Writing the files here makes a new certificate reach
// the server (its certwatcher notices the files) within seconds, and works
// where no kubelet mounts anything, as in the integration tests.
type fileWriter struct {
	Reader client.Reader
	Secret types.NamespacedName
	Dir    string
}

// Reconcile writes the Secret's pair when it is a usable one and differs from
// the files. A pair that does not match (the chart's placeholder, a hand edit,
// a Secret the rotator is about to repair) is skipped: the server keeps the
// certificate it has until the rotator writes a good one.
func (w *fileWriter) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	var s corev1.Secret
	if err := w.Reader.Get(ctx, w.Secret, &s); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	crt, key := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
	if _, err := tls.X509KeyPair(crt, key); err != nil {
		// The error names what is wrong with the pair, never its content.
		log.FromContext(ctx).Info("Secret holds no usable serving certificate yet; keeping the files", "reason", err.Error())
		return ctrl.Result{}, nil
	}
	// The key first: the certwatcher reloads on each file's change, and a
	// new key beside the old certificate is refused and retried, where the
	// opposite order would be too; either way the next event loads the pair.
	changed, err := writeFile(w.Dir, corev1.TLSPrivateKeyKey, key)
	if err != nil {
		return ctrl.Result{}, err
	}
	certChanged, err := writeFile(w.Dir, corev1.TLSCertKey, crt)
	if err != nil {
		return ctrl.Result{}, err
	}
	if changed || certChanged {
		log.FromContext(ctx).Info("wrote the webhook serving certificate", "dir", w.Dir)
	}
	return ctrl.Result{}, nil
}

// writeFile replaces dir/name with data by a rename, so a reader sees the old
// or the new content and never half of one. It does nothing when the file
// already holds data, so an unchanged Secret causes no reload.
func writeFile(dir, name string, data []byte) (bool, error) {
	path := filepath.Join(dir, name)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	return true, nil
}
