package rfc2136

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/provider"
)

// Provider writes to one server with one TSIG key. It is safe for concurrent
// use; writes to one zone are serialised, since each batch's prerequisites
// are the state the previous one left.
type Provider struct {
	opts Options
	// fudge is the TSIG time window the server allows (RFC 8945 suggests 300s).
	fudge uint16

	mu    sync.Mutex
	zones map[string]*zoneState  // by zone name
	locks map[string]*sync.Mutex // by zone name, held while writing
}

var (
	_ provider.Provider    = (*Provider)(nil)
	_ provider.TokenMinter = (*Provider)(nil)
)

// New builds a Provider. It makes no request.
func New(opts Options) (*Provider, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, &provider.Error{Op: "validate", Kind: provider.KindInvalid, Message: err.Error()}
	}
	return &Provider{opts: opts, fudge: 300, zones: map[string]*zoneState{}}, nil
}

// MintsTokens implements provider.TokenMinter: an RFC 2136 server has no API
// tokens to mint.
func (p *Provider) MintsTokens() bool { return false }

func (p *Provider) tsig() map[string]string {
	return map[string]string{p.opts.KeyName: p.opts.Secret.Reveal()}
}

func (p *Provider) sign(m *dns.Msg) {
	m.SetTsig(p.opts.KeyName, p.opts.Algorithm, p.fudge, time.Now().Unix())
}

// exchange sends one signed message over TCP and classifies the answer: an
// rcode other than NOERROR is an error of the given op.
func (p *Provider) exchange(ctx context.Context, op string, m *dns.Msg) (r *dns.Msg, err error) {
	start := time.Now()
	defer func() { p.observe(op, start, err) }()
	p.sign(m)
	c := &dns.Client{Net: "tcp", Timeout: p.opts.Timeout, TsigSecret: p.tsig()}
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	r, _, err = c.ExchangeContext(ctx, m, p.opts.Server)
	if r != nil && r.Rcode != dns.RcodeSuccess {
		// A refusal is often unsigned (BADKEY) and then fails the
		// signature check too: the rcode says more.
		return r, rcodeError(op, r)
	}
	if err != nil {
		return nil, transportError(op, p.opts.Server, err)
	}
	return r, nil
}

func (p *Provider) observe(op string, start time.Time, err error) {
	if p.opts.Observer != nil {
		p.opts.Observer(op, provider.ResultOf(err), time.Since(start))
	}
}

// transportError classifies a failure to get an answer. A TSIG failure on
// the answer means the server's key is not ours: forbidden, like a wrong
// password. Nothing in it carries the secret: miekg/dns's errors name no key
// material.
func transportError(op, server string, err error) error {
	if errors.Is(err, dns.ErrSig) || errors.Is(err, dns.ErrAuth) || errors.Is(err, dns.ErrSecret) || errors.Is(err, dns.ErrKeyAlg) || errors.Is(err, dns.ErrTime) {
		return &provider.Error{Op: op, Kind: provider.KindForbidden, Message: "the answer's TSIG signature does not verify with this key", Err: err}
	}
	msg := "server " + server + " did not answer"
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		msg = "server " + server + " did not answer in time"
	}
	return &provider.Error{Op: op, Kind: provider.KindUnavailable, Message: msg, Err: err}
}

// rcodeError classifies an answer's rcode (RFC 2136 §2.2, RFC 8945 §5.3).
func rcodeError(op string, r *dns.Msg) error {
	name := dns.RcodeToString[r.Rcode]
	tsigErr := ""
	if t := r.IsTsig(); t != nil && t.Error != dns.RcodeSuccess {
		tsigErr = ", TSIG " + dns.RcodeToString[int(t.Error)]
	}
	e := &provider.Error{Op: op}
	switch r.Rcode {
	case dns.RcodeNotAuth:
		e.Kind = provider.KindForbidden
		e.Message = "the server does not accept this TSIG key (NOTAUTH" + tsigErr + "): check the key name, algorithm, secret and clock"
	case dns.RcodeRefused:
		e.Kind = provider.KindForbidden
		e.Message = "the server refused (REFUSED" + tsigErr + "): the key may not do this here (update-policy or allow-transfer)"
	case dns.RcodeNXRrset, dns.RcodeYXRrset, dns.RcodeYXDomain, dns.RcodeNameError:
		e.Kind = provider.KindConflict
		e.Message = "a prerequisite failed (" + name + "): the zone changed since it was read"
	case dns.RcodeNotZone:
		e.Kind = provider.KindInvalid
		e.Message = "a name is outside the zone (NOTZONE)"
	case dns.RcodeFormatError:
		e.Kind = provider.KindInvalid
		e.Message = "the server could not read the message (FORMERR)"
	case dns.RcodeNotImplemented:
		e.Kind = provider.KindForbidden
		e.Message = "the server does not accept this operation here (NOTIMP)"
	case dns.RcodeServerFailure:
		e.Kind = provider.KindUnavailable
		e.Message = "the server failed (SERVFAIL)"
	default:
		e.Message = "the server answered " + name + tsigErr
	}
	return e
}

// Verify implements provider.Provider: a signed SOA query for each of
// Options.Zones (the root without them). An unknown key, a wrong secret or a
// skewed clock answers NOTAUTH (forbidden); a good key gets any other answer
// (REFUSED for a zone the server does not serve: Zones reports that).
func (p *Provider) Verify(ctx context.Context) error {
	names := p.opts.Zones
	if len(names) == 0 {
		names = []string{"."}
	}
	for _, n := range names {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(provider.NormalizeName(n)), dns.TypeSOA)
		r, err := p.exchange(ctx, provider.OpVerify, m)
		if err != nil && !(r != nil && r.Rcode == dns.RcodeRefused && !tsigFailed(r)) {
			return err
		}
	}
	return nil
}

// Zones implements provider.Provider: a zone is one whose apex SOA the
// server answers authoritatively.
func (p *Provider) Zones(ctx context.Context, names []string) ([]provider.Zone, error) {
	var out []provider.Zone
	for _, n := range names {
		name := provider.NormalizeName(n)
		if name == "" {
			continue
		}
		ok, err := p.hasZone(ctx, name)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, provider.Zone{ID: name, Name: name})
		}
	}
	return out, nil
}

func (p *Provider) hasZone(ctx context.Context, name string) (bool, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeSOA)
	r, err := p.exchange(ctx, provider.OpZonesList, m)
	if err != nil {
		if r != nil && !tsigFailed(r) && (r.Rcode == dns.RcodeRefused || r.Rcode == dns.RcodeNameError) {
			return false, nil // not served here
		}
		return false, err
	}
	return soaSerial(r, name) != nil, nil
}

// tsigFailed reports whether an answer carries a TSIG error (BADKEY,
// BADSIG, BADTIME), whatever its rcode.
func tsigFailed(r *dns.Msg) bool {
	t := r.IsTsig()
	return t != nil && t.Error != dns.RcodeSuccess
}

// soaSerial is the apex SOA of an authoritative answer, nil without one.
func soaSerial(r *dns.Msg, zone string) *dns.SOA {
	if !r.Authoritative {
		return nil
	}
	for _, rr := range r.Answer {
		if soa, ok := rr.(*dns.SOA); ok && provider.NormalizeName(soa.Hdr.Name) == zone {
			return soa
		}
	}
	return nil
}

// CheckWritable sends an UPDATE that can change nothing: delete the TXT RRset
// of a probe name, on the prerequisite that the name is not in use. A key the
// zone's update-policy does not let write there is REFUSED (forbidden); any
// other answer means the server takes updates from this key for the zone.
func (p *Provider) CheckWritable(ctx context.Context, zoneID string) error {
	zone := provider.NormalizeName(zoneID)
	probe := dns.Fqdn(registryLabel + "-probe." + zone)
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(zone))
	m.NameNotUsed([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: probe}}})
	m.RemoveRRset([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: probe, Rrtype: dns.TypeTXT}}})
	_, err := p.exchange(ctx, provider.OpRecordsBatch, m)
	if provider.IsConflict(err) {
		return nil // the prerequisite was checked, so the update was accepted for checking
	}
	if err != nil {
		return fmt.Errorf("zone %s: %w", zone, err)
	}
	return nil
}

// CheckZone checks, without changing anything, that the key may update the
// zone (CheckWritable) and transfer it (the provider's first read of it).
func (p *Provider) CheckZone(ctx context.Context, zoneID string) error {
	if err := p.CheckWritable(ctx, zoneID); err != nil {
		return err
	}
	zone := provider.NormalizeName(zoneID)
	if _, err := p.state(ctx, zone, false); err != nil {
		return fmt.Errorf("zone %s: %w", zone, err)
	}
	return nil
}

func notSupported(op string) error {
	return &provider.Error{Op: op, Kind: provider.KindNotSupported,
		Message: "an RFC 2136 server has no API tokens: the operator's gateway and front doors are the tenants' credentials"}
}

// MintToken implements provider.Provider; not supported.
func (p *Provider) MintToken(context.Context, provider.TokenSpec) (provider.MintedToken, error) {
	return provider.MintedToken{}, notSupported(provider.OpTokensCreate)
}

// UpdateTokenZones implements provider.Provider; not supported.
func (p *Provider) UpdateTokenZones(context.Context, string, []string) (provider.Token, error) {
	return provider.Token{}, notSupported(provider.OpTokensUpdate)
}

// RevokeToken implements provider.Provider; not supported.
func (p *Provider) RevokeToken(context.Context, string) error {
	return notSupported(provider.OpTokensDelete)
}

// Tokens implements provider.Provider; not supported.
func (p *Provider) Tokens(context.Context, string) ([]provider.Token, error) {
	return nil, notSupported(provider.OpTokensList)
}

// Token implements provider.Provider; not supported.
func (p *Provider) Token(context.Context, string) (provider.Token, error) {
	return provider.Token{}, notSupported(provider.OpTokensGet)
}
