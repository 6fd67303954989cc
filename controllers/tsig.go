package controllers

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Secret keys of the RFC 2136 credentials, in the names cert-manager's
// rfc2136 solver, nsupdate and lego take them.
const (
	KeyTSIGName      = "tsig-key-name"
	KeyTSIGAlgorithm = "tsig-algorithm"
	KeyTSIGSecret    = "tsig-secret"
	KeyNameserver    = "nameserver"
	// KeyTSIGPrevious holds the rotated-out TSIG secret until the overlap
	// ends; the gateway accepts both meanwhile. It is data, not an
	// annotation, because it is a secret value.
	KeyTSIGPrevious = "tsig-secret-previous"

	// AnnPreviousTSIGUntil is when the previous TSIG secret stops working.
	AnnPreviousTSIGUntil = "scopedns.io/previous-tsig-until"

	// TSIGAlgorithm is the only algorithm the gateway hands out. cert-manager
	// falls back to HMAC-MD5 when the Issuer leaves tsigAlgorithm unset, so
	// the Secret spells it out in cert-manager's own notation.
	TSIGAlgorithm = "HMACSHA256"
)

// TSIGKeyName is the TSIG key name of a namespace under a scope. It is a
// domain name so every RFC 2136 client accepts it.
func TSIGKeyName(namespace, scope string) string {
	return fmt.Sprintf("%s.%s.scopedns.", namespace, scope)
}

func newTSIGSecret() (string, error) {
	b := make([]byte, 32) // HMAC-SHA256's block-sized key strength
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating a TSIG secret: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// ensureTSIG gives the Secret a TSIG key when it has none and keeps the
// nameserver current. It reports whether it changed the Secret.
func ensureTSIG(s *corev1.Secret, nameserver string) (bool, error) {
	changed := false
	if len(s.Data[KeyTSIGSecret]) == 0 {
		v, err := newTSIGSecret()
		if err != nil {
			return false, err
		}
		s.Data[KeyTSIGSecret] = []byte(v)
		changed = true
	}
	want := map[string]string{
		KeyTSIGName:      TSIGKeyName(s.Namespace, s.Labels[LabelScope]),
		KeyTSIGAlgorithm: TSIGAlgorithm,
		KeyNameserver:    nameserver,
	}
	for k, v := range want {
		if string(s.Data[k]) != v {
			s.Data[k] = []byte(v)
			changed = true
		}
	}
	return changed, nil
}

// rotateTSIG moves the current TSIG secret to the previous slot, valid until
// now+overlap, and draws a new one.
func rotateTSIG(s *corev1.Secret, now time.Time, overlap time.Duration) error {
	v, err := newTSIGSecret()
	if err != nil {
		return err
	}
	if cur := s.Data[KeyTSIGSecret]; len(cur) > 0 {
		s.Data[KeyTSIGPrevious] = cur
		s.Annotations[AnnPreviousTSIGUntil] = formatTime(now.Add(overlap))
	}
	s.Data[KeyTSIGSecret] = []byte(v)
	return nil
}

// expirePreviousTSIG drops the previous TSIG secret once its overlap ended.
// It reports whether it changed the Secret.
func expirePreviousTSIG(s *corev1.Secret, now time.Time) bool {
	if len(s.Data[KeyTSIGPrevious]) == 0 || parseTime(s.Annotations[AnnPreviousTSIGUntil]).After(now) {
		return false
	}
	delete(s.Data, KeyTSIGPrevious)
	delete(s.Annotations, AnnPreviousTSIGUntil)
	return true
}

// dropTSIG removes every TSIG value from the Secret.
func dropTSIG(s *corev1.Secret) bool {
	changed := false
	for _, k := range []string{KeyTSIGName, KeyTSIGAlgorithm, KeyTSIGSecret, KeyTSIGPrevious, KeyNameserver} {
		if _, ok := s.Data[k]; ok {
			delete(s.Data, k)
			changed = true
		}
	}
	delete(s.Annotations, AnnPreviousTSIGUntil)
	return changed
}
