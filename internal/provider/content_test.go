package provider

import "testing"

// TestContentKey is the table of the one record-content equality.
func TestContentKey(t *testing.T) {
	for _, tc := range []struct {
		name, typ, a, b string
		same            bool
	}{
		{"a plain TXT string equals its quoted form", "TXT", "token", `"token"`, true},
		{"escaped quotes are the same character", "TXT", `"a\"b"`, `a"b`, true},
		{"decimal escapes are the byte they stand for", "TXT", `"\065BC"`, "ABC", true},
		{"two strings differ from their concatenation", "TXT", `"a" "b"`, `"ab"`, false},
		{"string boundaries are kept", "TXT", `"a" "bc"`, `"ab" "c"`, false},
		{"an unterminated quote is taken literally", "TXT", `"abc`, `"abc`, true},
		{"a TXT value is not the same as its unterminated quoting", "TXT", `"abc`, "abc", false},
		{"the type is compared without case", "txt", `"v=1"`, "v=1", true},
		{"IPv6 addresses compare by value", "AAAA", "2001:DB8:0::1", "2001:db8::1", true},
		{"IPv4 addresses compare by value", "A", "203.0.113.1", "203.0.113.2", false},
		{"names compare without case or trailing dot", "CNAME", "Target.Example.NET.", "target.example.net", true},
		{"MX hosts compare without case or trailing dot", "MX", "10 Mail.Example.NET.", "10 mail.example.net", true},
		{"MX preferences are part of the data", "MX", "10 mail.example.net", "20 mail.example.net", false},
		{"a CAA value compares quoted or not", "CAA", "0 issue letsencrypt.org", `0 issue "letsencrypt.org"`, true},
		{"a CAA value keeps its case", "CAA", `0 issue "LetsEncrypt.org"`, `0 issue "letsencrypt.org"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SameContent(tc.typ, tc.a, tc.b); got != tc.same {
				t.Errorf("SameContent(%q, %q): %v, want %v", tc.a, tc.b, got, tc.same)
			}
		})
	}
}
