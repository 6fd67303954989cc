package webhookcert

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

var secretKey = types.NamespacedName{Namespace: "scopedns-system", Name: "webhook-cert"}

// pair returns a self-signed certificate and its key, PEM-encoded.
func pair(t *testing.T) (crt, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

func secret(crt, key []byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: secretKey.Namespace, Name: secretKey.Name},
		Data:       map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key},
	}
}

func readFiles(t *testing.T, dir string) (crt, key []byte) {
	t.Helper()
	crt, _ = os.ReadFile(filepath.Join(dir, corev1.TLSCertKey))
	key, _ = os.ReadFile(filepath.Join(dir, corev1.TLSPrivateKeyKey))
	return crt, key
}

func TestFileWriter(t *testing.T) {
	good, goodKey := pair(t)
	old, oldKey := pair(t)
	_, otherKey := pair(t)
	tests := map[string]struct {
		secret           *corev1.Secret
		files            [2][]byte // tls.crt and tls.key before the reconcile
		wantCrt, wantKey []byte
	}{
		"should write a usable pair into an empty directory": {
			secret: secret(good, goodKey), wantCrt: good, wantKey: goodKey,
		},
		"should replace the files when the Secret holds a new pair": {
			secret: secret(good, goodKey), files: [2][]byte{old, oldKey}, wantCrt: good, wantKey: goodKey,
		},
		"should keep the files when the Secret's key does not match its certificate": {
			secret: secret(good, otherKey), files: [2][]byte{old, oldKey}, wantCrt: old, wantKey: oldKey,
		},
		"should keep the files when the Secret is still empty": {
			secret: secret(nil, nil), files: [2][]byte{old, oldKey}, wantCrt: old, wantKey: oldKey,
		},
		"should do nothing when the Secret does not exist": {
			files: [2][]byte{old, oldKey}, wantCrt: old, wantKey: oldKey,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.files[0] != nil {
				for i, n := range []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey} {
					if err := os.WriteFile(filepath.Join(dir, n), tc.files[i], 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			b := fake.NewClientBuilder()
			if tc.secret != nil {
				b = b.WithObjects(tc.secret)
			}
			w := &fileWriter{Reader: b.Build(), Secret: secretKey, Dir: dir}
			if _, err := w.Reconcile(context.Background(), ctrl.Request{NamespacedName: secretKey}); err != nil {
				t.Fatalf("Reconcile: %v", err)
			}
			crt, key := readFiles(t, dir)
			if string(crt) != string(tc.wantCrt) || string(key) != string(tc.wantKey) {
				t.Errorf("files after the reconcile are not the expected pair (crt %d bytes, key %d bytes)", len(crt), len(key))
			}
			if entries, _ := os.ReadDir(dir); len(entries) > 2 {
				t.Errorf("temporary files left behind: %v", entries)
			}
		})
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tls.key")
	if changed, err := writeFile(dir, "tls.key", []byte("one")); err != nil || !changed {
		t.Fatalf("first write: changed %v, err %v", changed, err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if before.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600: the file holds a private key", before.Mode().Perm())
	}
	if changed, err := writeFile(dir, "tls.key", []byte("one")); err != nil || changed {
		t.Fatalf("same content again: changed %v, err %v; an unchanged Secret must not make the server reload", changed, err)
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("the file was replaced although its content did not change")
	}
	if changed, err := writeFile(dir, "tls.key", []byte("two")); err != nil || !changed {
		t.Fatalf("new content: changed %v, err %v", changed, err)
	}
	if got, _ := os.ReadFile(path); string(got) != "two" {
		t.Errorf("content %q, want %q", got, "two")
	}
}
