package grant

import (
	"strings"
	"testing"
)

func TestValidateValues(t *testing.T) {
	long := strings.Repeat("x", 255)
	tests := map[string]struct {
		typ    string
		values []string
		rule   string // empty: valid
	}{
		"accepts a reservation without values":                        {typ: "TXT"},
		"accepts IPv4 addresses":                                      {typ: "A", values: []string{"203.0.113.10", "0.0.0.0", "255.255.255.255"}},
		"rejects an IPv4 octet with a leading zero":                   {typ: "A", values: []string{"203.0.113.010"}, rule: "leading zeros"},
		"rejects an IPv4 octet above 255":                             {typ: "A", values: []string{"203.0.113.256"}, rule: "IPv4"},
		"rejects three octets":                                        {typ: "A", values: []string{"203.0.113"}, rule: "IPv4"},
		"rejects an IPv6 address as A":                                {typ: "A", values: []string{"2001:db8::1"}, rule: "IPv4"},
		"rejects an IPv4-mapped address as A":                         {typ: "A", values: []string{"::ffff:192.0.2.1"}, rule: "IPv4"},
		"rejects a host name as A":                                    {typ: "A", values: []string{"example.com"}, rule: "IPv4"},
		"rejects a space around an address":                           {typ: "A", values: []string{" 192.0.2.1"}, rule: "IPv4"},
		"accepts IPv6 addresses":                                      {typ: "AAAA", values: []string{"2001:db8::1", "::1", "2001:DB8:0:0:0:0:0:2"}},
		"rejects an IPv6 zone index":                                  {typ: "AAAA", values: []string{"fe80::1%eth0"}, rule: "zone index"},
		"rejects an IPv4 address as AAAA":                             {typ: "AAAA", values: []string{"192.0.2.1"}, rule: "IPv6"},
		"accepts a CNAME target with a trailing dot":                  {typ: "CNAME", values: []string{"lb.example.net."}},
		"accepts an internationalised CNAME target":                   {typ: "CNAME", values: []string{"b\u00fccher.example"}},
		"rejects two CNAME targets":                                   {typ: "CNAME", values: []string{"a.example.net", "b.example.net"}, rule: "exactly one"},
		"rejects a wildcard CNAME target":                             {typ: "CNAME", values: []string{"*.example.net"}, rule: "not a host name"},
		"rejects a CNAME target with a space":                         {typ: "CNAME", values: []string{"a b.example"}, rule: "not a host name"},
		"rejects the root as a CNAME target":                          {typ: "CNAME", values: []string{"."}, rule: "root name"},
		"rejects a look-alike CNAME target":                           {typ: "CNAME", values: []string{"ex\u0430mple.com"}, rule: "mixes scripts"},
		"accepts name servers":                                        {typ: "NS", values: []string{"ns1.example.net", "ns2.example.net"}},
		"rejects an address as a name server":                         {typ: "NS", values: []string{"ns1.example.net", "192.0.2.1:53"}, rule: "values[1]"},
		"accepts TXT text":                                            {typ: "TXT", values: []string{"v=spf1 -all", "caf\u00e9 ok"}},
		"accepts a TXT value of 300 bytes, which the provider splits": {typ: "TXT", values: []string{strings.Repeat("k", 300)}},
		"accepts a TXT value of 2,048 bytes, the provider's limit":    {typ: "TXT", values: []string{strings.Repeat("k", 2048)}},
		"rejects a TXT value of 2,049 bytes, naming the value and the limit": {typ: "TXT", values: []string{"ok", strings.Repeat("k", 2049)},
			rule: "values[1]: \"" + strings.Repeat("k", 64)},
		"rejects a TXT value over the limit with the provider's rule": {typ: "TXT", values: []string{strings.Repeat("k", 2049)}, rule: "TXT content is 2049 bytes; the provider takes at most 2048"},
		"accepts quoted TXT chunks of 255 bytes":                      {typ: "TXT", values: []string{`"` + long + `" "` + long + `"`}},
		"rejects a quoted TXT chunk of 256 bytes":                     {typ: "TXT", values: []string{`"` + long + `x"`}, rule: "at most 255"},
		"accepts escapes in a quoted TXT chunk":                       {typ: "TXT", values: []string{`"say \"hi\" \\o/"`}},
		"rejects an unclosed quoted TXT chunk":                        {typ: "TXT", values: []string{`"abc`}, rule: "missing closing quote"},
		"rejects quoted TXT chunks without a space":                   {typ: "TXT", values: []string{`"a""b"`}, rule: "separated by spaces"},
		"rejects text after quoted TXT chunks":                        {typ: "TXT", values: []string{`"a" b`}, rule: "opening quote"},
		"rejects an unknown escape":                                   {typ: "TXT", values: []string{`"a\065"`}, rule: "escapes"},
		"rejects a NUL byte in TXT":                                   {typ: "TXT", values: []string{"a\x00b"}, rule: "non-printable"},
		"rejects a newline in TXT":                                    {typ: "TXT", values: []string{"a\nb"}, rule: "non-printable"},
		"rejects a bidi override in TXT":                              {typ: "TXT", values: []string{"abc\u202edef"}, rule: "non-printable"},
		"rejects invalid UTF-8 in TXT":                                {typ: "TXT", values: []string{"a\xffb"}, rule: "UTF-8"},
		"rejects an empty value":                                      {typ: "TXT", values: []string{""}, rule: "must not be empty"},
		"rejects a duplicate value":                                   {typ: "TXT", values: []string{"a", "b", "a"}, rule: "duplicates values[0]"},
		"rejects too many values":                                     {typ: "A", values: make([]string, MaxValues+1), rule: "at most 100"},
		"accepts MX values":                                           {typ: "MX", values: []string{"10 mx1.example.net", "20 mx2.example.net."}},
		"accepts a null MX":                                           {typ: "MX", values: []string{"0 ."}},
		"rejects a null MX beside another MX":                         {typ: "MX", values: []string{"0 .", "10 mx.example.net"}, rule: "only MX value"},
		"rejects a null MX with a preference":                         {typ: "MX", values: []string{"10 ."}, rule: "preference 0"},
		"rejects an MX preference above 65535":                        {typ: "MX", values: []string{"65536 mx.example.net"}, rule: "above 65535"},
		"rejects a negative MX preference":                            {typ: "MX", values: []string{"-1 mx.example.net"}, rule: "not a number"},
		"rejects an MX preference with a leading zero":                {typ: "MX", values: []string{"010 mx.example.net"}, rule: "leading zeros"},
		"rejects an MX without a host":                                {typ: "MX", values: []string{"10"}, rule: "<preference> <host>"},
		"rejects an MX with an address":                               {typ: "MX", values: []string{"10 mx@example.net"}, rule: "not a host name"},
		"accepts SRV values":                                          {typ: "SRV", values: []string{"10 60 5060 sip.example.net", "0 0 0 ."}},
		"rejects an SRV port above 65535":                             {typ: "SRV", values: []string{"10 60 65536 sip.example.net"}, rule: "port 65536"},
		"rejects an SRV with three fields":                            {typ: "SRV", values: []string{"10 60 sip.example.net"}, rule: "<priority>"},
		"rejects an SRV with a wildcard target":                       {typ: "SRV", values: []string{"10 60 5060 *.example.net"}, rule: "not a host name"},
		"accepts CAA issue values":                                    {typ: "CAA", values: []string{`0 issue "letsencrypt.org"`, "0 issuewild ;", `128 issue "ca.example.net; account=123; validationmethods=dns-01"`}},
		"accepts a CAA iodef URL":                                     {typ: "CAA", values: []string{`0 iodef "mailto:security@example.com"`, "0 iodef https://example.com/caa"}},
		"rejects CAA flags above 255":                                 {typ: "CAA", values: []string{`256 issue "letsencrypt.org"`}, rule: "above 255"},
		"rejects an unknown CAA tag":                                  {typ: "CAA", values: []string{`0 issuemail "letsencrypt.org"`}, rule: "tag issue"},
		"rejects an upper-case CAA tag":                               {typ: "CAA", values: []string{`0 ISSUE "letsencrypt.org"`}, rule: "lower case"},
		"rejects a CAA without a value":                               {typ: "CAA", values: []string{"0 issue"}, rule: "missing"},
		"rejects an unquoted CAA value with spaces":                   {typ: "CAA", values: []string{"0 issue ca.example.net; account=1"}, rule: "quoted"},
		"rejects text after a quoted CAA value":                       {typ: "CAA", values: []string{`0 issue "a.example" x`}, rule: "after its closing quote"},
		"rejects a CAA issuer that is not a host":                     {typ: "CAA", values: []string{`0 issue "lets encrypt"`}, rule: "CAA issuer"},
		"rejects a malformed CAA parameter":                           {typ: "CAA", values: []string{`0 issue "ca.example; account"`}, rule: "key=value"},
		"rejects a CAA iodef that is not a URL":                       {typ: "CAA", values: []string{`0 iodef "security@example.com"`}, rule: "mailto:"},
		"rejects a CAA iodef with a javascript scheme":                {typ: "CAA", values: []string{`0 iodef "javascript:alert(1)"`}, rule: "mailto:"},
		"rejects an unsupported type":                                 {typ: "SPF", values: []string{"v=spf1"}, rule: "unsupported type"},
		"rejects a CNAME with one valid, one bad value":               {typ: "CNAME", values: []string{"a.example", ""}, rule: "exactly one"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := ValidateValues(tc.typ, tc.values)
			switch {
			case tc.rule == "" && err != nil:
				t.Fatalf("ValidateValues: %v", err)
			case tc.rule != "" && err == nil:
				t.Fatalf("ValidateValues accepted %q; want an error about %q", tc.values, tc.rule)
			case tc.rule != "" && !strings.Contains(err.Error(), tc.rule):
				t.Fatalf("error %q does not mention %q", err, tc.rule)
			}
		})
	}
}
