package dyndns

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"

	"github.com/scopedns/scopedns/internal/grant"
)

// maxHosts is the spec's limit of hostnames in one update ("numhost": more
// than 20).
const maxHosts = 20

// splitHostnames returns the comma-separated hostnames in request order,
// blanks dropped, as sent (normalised later, per line).
func splitHostnames(s string) []string {
	var out []string
	for _, h := range strings.Split(s, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

// hostname normalises one hostname. ok is false for anything the spec
// calls not fully qualified: an invalid name, or a single label.
func hostname(s string) (name string, ok bool) {
	n, err := grant.NormalizeName(s)
	if err != nil || !strings.Contains(n, ".") {
		return "", false
	}
	return n, true
}

// addrs are the addresses of one update: at most one per family.
type addrs struct {
	v4, v6 netip.Addr
}

func (a addrs) empty() bool { return !a.v4.IsValid() && !a.v6.IsValid() }

// String is the answer's "<ip>": the addresses set, comma-separated as in
// myip.
func (a addrs) String() string {
	var s []string
	for _, ip := range []netip.Addr{a.v4, a.v6} {
		if ip.IsValid() {
			s = append(s, ip.String())
		}
	}
	return strings.Join(s, ",")
}

// errRoundRobin is two addresses of one family in myip: dyndns2 sets one
// address per family and answers a round robin with "numhost".
var errRoundRobin = errors.New("myip holds two addresses of one family")

// parseMyIP reads myip. Entries that are not an address (or carry an IPv6
// zone) are ignored and returned in bad, as the spec says a malformed myip
// is: the caller falls back to the request's address when nothing usable is
// left. IPv4-mapped IPv6 addresses count as IPv4.
func parseMyIP(s string) (a addrs, bad []string, err error) {
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		ip, perr := netip.ParseAddr(part)
		if perr != nil || ip.Zone() != "" {
			bad = append(bad, part)
			continue
		}
		ip = ip.Unmap()
		slot := &a.v6
		if ip.Is4() {
			slot = &a.v4
		}
		if slot.IsValid() && *slot != ip {
			return addrs{}, bad, errRoundRobin
		}
		*slot = ip
	}
	return a, bad, nil
}

// remoteAddr is the address the request came from: the TCP peer, unless the
// peer is a trusted proxy, in which case X-Forwarded-For is read from the
// right (each proxy appends the address it got the request from) and the
// first address that is not a trusted proxy is the client. Entries left of
// it were written by whoever sent the request and are never believed.
func remoteAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	client := peer.Addr().Unmap()
	if !isTrusted(client, trusted) {
		return client
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil || ip.Zone() != "" {
			// A trusted proxy wrote nonsense: the last hop we could
			// read is the best we know.
			return client
		}
		client = ip.Unmap()
		if !isTrusted(client, trusted) {
			return client
		}
	}
	return client
}

func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// byFamily puts one address into its family's slot.
func byFamily(ip netip.Addr) addrs {
	if ip.Is4() {
		return addrs{v4: ip}
	}
	return addrs{v6: ip}
}
