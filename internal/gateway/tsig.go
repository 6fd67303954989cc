package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// tsigVerifier is the server's dynamic dns.TsigProvider: it looks the key up
// on every request, so keys added, rotated or revoked by the controllers take
// effect at once. A MAC made with any of the key's secrets verifies (the
// previous one only until the key's PreviousValidUntil); the key
// and the secret that verified are remembered (verifiedCache) so that the
// handler acts on the same key snapshot and signs its response with the same
// secret.
type tsigVerifier struct{ s *Server }

var errNoGenerate = errors.New("gateway: responses are signed by the handler")

// Generate is not used: the handler signs responses itself with the secret
// that verified the request (dns.ResponseWriter.WriteMsg would call this for
// a response that carries a TSIG RR, and the handler never hands it one).
func (v *tsigVerifier) Generate([]byte, *dns.TSIG) ([]byte, error) { return nil, errNoGenerate }

// Verify implements dns.TsigProvider. Its errors become the TSIG error of the
// response: dns.ErrSecret (unknown key) and dns.ErrKeyAlg (algorithm not the
// key's, or not allowed) → BADKEY, dns.ErrSig → BADSIG.
func (v *tsigVerifier) Verify(msg []byte, t *dns.TSIG) error {
	name := keyName(t.Hdr.Name)
	key, ok := v.s.o.Keys.Key(name)
	if !ok {
		return dns.ErrSecret
	}
	alg, ok := CanonicalAlgorithm(key.Algorithm)
	if !ok || dns.CanonicalName(t.Algorithm) != alg {
		return dns.ErrKeyAlg
	}
	mac, err := hex.DecodeString(t.MAC)
	if err != nil || len(mac) == 0 {
		return dns.ErrSig
	}
	newHash := sha256.New
	if alg == dns.HmacSHA512 {
		newHash = sha512.New
	}
	now := v.s.o.Now()
	for _, secret := range usableSecrets(key, now) {
		if ok := macMatches(newHash, secret, msg, mac); ok {
			v.s.verified.put(name, t.MAC, key, secret, now)
			return nil
		}
	}
	return dns.ErrSig
}

// usableSecrets are the key's secrets that verify at now: the current one,
// and the previous ones only before the key's PreviousValidUntil. A MAC of
// an expired previous secret is then BADSIG, like any other wrong secret.
func usableSecrets(k Key, now time.Time) []string {
	if len(k.Secrets) > 1 && !now.Before(k.PreviousValidUntil) {
		return k.Secrets[:1]
	}
	return k.Secrets
}

func macMatches(newHash func() hash.Hash, secret string, msg, mac []byte) bool {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(secret))
	if err != nil || len(raw) == 0 {
		return false
	}
	h := hmac.New(newHash, raw)
	h.Write(msg)
	return hmac.Equal(h.Sum(nil), mac)
}

// tsigErrorOf maps a TSIG verification status to the TSIG error code of the
// response.
func tsigErrorOf(err error) uint16 {
	switch {
	case errors.Is(err, dns.ErrSecret), errors.Is(err, dns.ErrKeyAlg):
		return dns.RcodeBadKey
	case errors.Is(err, dns.ErrTime):
		return dns.RcodeBadTime
	default:
		return dns.RcodeBadSig
	}
}

// verifiedCache remembers, between the server's TSIG verification and the
// handler, which key and secret verified a request, by key name and MAC.
type verifiedCache struct {
	mu sync.Mutex
	m  map[string]*verifiedEntry
}

type verifiedEntry struct {
	key    Key
	secret string
	refs   int
	at     time.Time
}

func verifiedID(name, mac string) string { return name + " " + strings.ToLower(mac) }

func (c *verifiedCache) put(name, mac string, key Key, secret string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := verifiedID(name, mac)
	if e := c.m[id]; e != nil {
		// The same message twice at once (a retransmission): same key.
		e.refs++
		e.at = now
		return
	}
	if len(c.m) >= verifiedCacheLimit {
		for k, e := range c.m {
			if now.Sub(e.at) > time.Minute {
				delete(c.m, k)
			}
		}
	}
	c.m[id] = &verifiedEntry{key: key, secret: secret, refs: 1, at: now}
}

// take returns the entry for a request and forgets it once every request
// that verified with it took it.
func (c *verifiedCache) take(name, mac string) *verifiedEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := verifiedID(name, mac)
	e := c.m[id]
	if e == nil {
		return nil
	}
	e.refs--
	if e.refs <= 0 {
		delete(c.m, id)
	}
	return e
}

func (c *verifiedCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// signResponse packs reply with a TSIG RR answering the request's reqTSIG:
// signed with the secret that verified the request when there is one,
// unsigned (MAC size 0) for BADKEY and BADSIG. For BADTIME the request's time
// is echoed and Other Data carries the server's time (RFC 8945 §5.2.3).
func signResponse(reply *dns.Msg, req *dns.TSIG, v *verifiedEntry, tsigErr uint16, now time.Time) ([]byte, error) {
	reply.SetTsig(req.Hdr.Name, req.Algorithm, maxFudge, now.Unix())
	t := reply.Extra[len(reply.Extra)-1].(*dns.TSIG)
	t.Error = tsigErr
	secret, requestMAC := "", ""
	if v != nil && tsigErr != dns.RcodeBadKey && tsigErr != dns.RcodeBadSig {
		secret, requestMAC = v.secret, req.MAC
		if tsigErr == dns.RcodeBadTime {
			t.TimeSigned = req.TimeSigned
			t.OtherLen = 6
			t.OtherData = hex.EncodeToString([]byte{
				byte(now.Unix() >> 40), byte(now.Unix() >> 32), byte(now.Unix() >> 24),
				byte(now.Unix() >> 16), byte(now.Unix() >> 8), byte(now.Unix()),
			})
		}
	} else {
		// Unsigned: MAC size 0, the server's time (RFC 8945 §5.3.2). Packed
		// as a plain RR, since miekg/dns would zero the time.
		if t.Error != dns.RcodeBadKey && t.Error != dns.RcodeBadSig {
			t.Error = dns.RcodeBadSig
		}
		t.MAC, t.MACSize = "", 0
		return reply.Pack()
	}
	buf, _, err := dns.TsigGenerate(reply, secret, requestMAC, false)
	return buf, err
}
