package rfc2136

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/provider"
)

// Options configures a Provider.
type Options struct {
	// Server is the primary's address, host:port: SOA queries and UPDATEs go
	// there.
	Server string
	// Transfer is where zone transfers are read from, host:port; default
	// Server. A secondary close to the operator can serve them.
	Transfer string
	// KeyName is the TSIG key's name, as the server knows it.
	KeyName string
	// Algorithm is the TSIG algorithm: HMACSHA256 or HMACSHA512 (any case,
	// with or without dashes, or miekg/dns's hmac-sha256. form).
	Algorithm string
	// Secret is the key's base64 secret.
	Secret provider.Secret
	// Zones are the zones the key is for (a DNSScope's zones). Verify checks
	// the key with a signed SOA query for each: Knot checks a signature only
	// on a question for a zone it serves. Without zones, Verify asks for the
	// root, which BIND checks the signature of before it refuses.
	Zones []string
	// Timeout bounds each exchange (and each message of a transfer); default
	// 10s.
	Timeout time.Duration
	// BatchSize is the most record changes one UPDATE carries; default 200,
	// Cloudflare's batch size, so both providers cost the same number of
	// writes. A batch is also cut at 60,000 bytes, under the 64 KiB a DNS
	// message over TCP can hold.
	BatchSize int
	// DefaultTTL is written for a record that asks for the automatic TTL (0
	// or 1); default 300.
	DefaultTTL int
	// Observer, when set, is told about every request.
	Observer provider.Observer
}

// algorithms maps the accepted spellings to miekg/dns's names. MD5 and SHA-1
// are left out on purpose: the gateway refuses them too.
var algorithms = map[string]string{
	"hmacsha256": dns.HmacSHA256,
	"hmacsha512": dns.HmacSHA512,
}

// Algorithm returns miekg/dns's name of a TSIG algorithm given as
// HMACSHA256, HMAC-SHA512, hmac-sha256. and the like; false for any other.
func Algorithm(name string) (string, bool) {
	a, ok := algorithms[strings.NewReplacer("-", "", ".", "").Replace(strings.ToLower(strings.TrimSpace(name)))]
	return a, ok
}

func (o *Options) setDefaults() error {
	var problems []error
	if _, _, err := net.SplitHostPort(o.Server); err != nil {
		problems = append(problems, fmt.Errorf("server %q is not host:port", o.Server))
	}
	if o.Transfer == "" {
		o.Transfer = o.Server
	} else if _, _, err := net.SplitHostPort(o.Transfer); err != nil {
		problems = append(problems, fmt.Errorf("transfer %q is not host:port", o.Transfer))
	}
	if _, ok := dns.IsDomainName(o.KeyName); !ok || strings.TrimSuffix(o.KeyName, ".") == "" {
		problems = append(problems, fmt.Errorf("key name %q is not a domain name", o.KeyName))
	}
	o.KeyName = dns.Fqdn(strings.ToLower(o.KeyName))
	if a, ok := Algorithm(o.Algorithm); ok {
		o.Algorithm = a
	} else {
		problems = append(problems, fmt.Errorf("TSIG algorithm %q is not HMACSHA256 or HMACSHA512", o.Algorithm))
	}
	if b, err := base64.StdEncoding.DecodeString(o.Secret.Reveal()); err != nil || len(b) == 0 {
		// The error of DecodeString quotes no input, but say nothing of the
		// value anyway.
		problems = append(problems, errors.New("the TSIG secret is not base64"))
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 200
	}
	if o.DefaultTTL <= 1 {
		o.DefaultTTL = 300
	}
	return errors.Join(problems...)
}
