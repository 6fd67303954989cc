package dyndns

import (
	"errors"
	"net/http/httptest"
	"net/netip"
	"slices"
	"testing"
)

func TestParseMyIP(t *testing.T) {
	cases := map[string]struct {
		in      string
		want    string
		bad     []string
		wantErr error
	}{
		"an IPv4 address": {in: "203.0.113.7", want: "203.0.113.7"},
		"an IPv6 address": {in: "2001:db8::7", want: "2001:db8::7"},
		"one of each, either order, spaces trimmed":      {in: " 2001:db8::7 , 203.0.113.7", want: "203.0.113.7,2001:db8::7"},
		"an IPv4-mapped IPv6 address is IPv4":            {in: "::ffff:203.0.113.7", want: "203.0.113.7"},
		"the same address twice is one":                  {in: "203.0.113.7,203.0.113.7", want: "203.0.113.7"},
		"empty is nothing":                               {in: "", want: ""},
		"a malformed entry is ignored and reported":      {in: "203.0.113.7,nonsense", want: "203.0.113.7", bad: []string{"nonsense"}},
		"an IPv6 zone is not an address to publish":      {in: "fe80::1%eth0", want: "", bad: []string{"fe80::1%eth0"}},
		"two IPv4 addresses are a round robin":           {in: "203.0.113.7,203.0.113.8", wantErr: errRoundRobin},
		"two IPv6 addresses are a round robin":           {in: "2001:db8::7,2001:db8::8", wantErr: errRoundRobin},
		"a hostname is not an address (no DNS lookups)":  {in: "example.com", want: "", bad: []string{"example.com"}},
		"an address with a port is not an address":       {in: "203.0.113.7:80", want: "", bad: []string{"203.0.113.7:80"}},
		"a CIDR is not an address":                       {in: "203.0.113.0/24", want: "", bad: []string{"203.0.113.0/24"}},
		"blank entries between commas are skipped":       {in: ",203.0.113.7,,", want: "203.0.113.7"},
		"IPv4 with leading zeros is refused (ambiguous)": {in: "203.0.113.07", want: "", bad: []string{"203.0.113.07"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			a, bad, err := parseMyIP(tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if a.String() != tc.want || !slices.Equal(bad, tc.bad) {
				t.Fatalf("got %q bad %q, want %q bad %q", a.String(), bad, tc.want, tc.bad)
			}
		})
	}
}

func TestRemoteAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	cases := map[string]struct {
		remote string
		xff    []string
		want   string
	}{
		"the TCP peer without a proxy":                               {remote: "198.51.100.9:1234", want: "198.51.100.9"},
		"an untrusted peer's X-Forwarded-For is ignored":             {remote: "198.51.100.9:1234", xff: []string{"192.0.2.1"}, want: "198.51.100.9"},
		"a trusted proxy's last hop is the client":                   {remote: "10.0.0.1:1234", xff: []string{"192.0.2.1, 198.51.100.20"}, want: "198.51.100.20"},
		"trusted proxies in a chain are skipped from the right":      {remote: "10.0.0.1:1234", xff: []string{"198.51.100.20, 10.0.0.2", "10.0.0.3"}, want: "198.51.100.20"},
		"what the client wrote left of the client's hop is not read": {remote: "10.0.0.1:1234", xff: []string{"192.0.2.66, 198.51.100.20"}, want: "198.51.100.20"},
		"a trusted proxy without the header is the address":          {remote: "10.0.0.1:1234", want: "10.0.0.1"},
		"a garbled hop stops the walk at the last hop read":          {remote: "10.0.0.1:1234", xff: []string{"198.51.100.20, garbage, 10.0.0.2"}, want: "10.0.0.2"},
		"IPv6 peers and proxies":                                     {remote: "[fd00::1]:1234", xff: []string{"2001:db8::20"}, want: "2001:db8::20"},
		"an IPv4-mapped peer is IPv4":                                {remote: "[::ffff:198.51.100.9]:1234", want: "198.51.100.9"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/nic/update", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := remoteAddr(r, trusted).String(); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestHostname(t *testing.T) {
	cases := map[string]struct {
		in   string
		want string
		ok   bool
	}{
		"a name is lower cased without its trailing dot":      {in: "Home.Example.COM.", want: "home.example.com", ok: true},
		"an internationalised name becomes A-labels":          {in: "bücher.example.com", want: "xn--bcher-kva.example.com", ok: true},
		"a single label is not fully qualified":               {in: "localhost"},
		"an empty label is not a name":                        {in: "a..example.com"},
		"a label of 64 octets is not a name":                  {in: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example.com"},
		"an address passes as a name, and is no login's host": {in: "203.0.113.7", want: "203.0.113.7", ok: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, ok := hostname(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("got %q %v, want %q %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
