package rfc2136

import "testing"

func TestRegistryEntries(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef"
	cases := map[string]struct {
		text string
		want entry
		ok   bool
	}{
		"an entry reads back with its comment": {
			text: "scopedns/1 id=" + id + " type=A data=0123456789abcdef ttl=300 comment=scopedns:c:ns/claim",
			want: entry{ID: id, Type: "A", Data: "0123456789abcdef", TTL: 300, Comment: "scopedns:c:ns/claim"}, ok: true,
		},
		"a comment with spaces runs to the end": {
			text: "scopedns/1 id=" + id + " type=TXT data=0123456789abcdef ttl=auto comment=written by hand",
			want: entry{ID: id, Type: "TXT", Data: "0123456789abcdef", AutoTTL: true, Comment: "written by hand"}, ok: true,
		},
		"other TXT text is not an entry":       {text: "v=spf1 -all"},
		"an unsupported type is not an entry":  {text: "scopedns/1 id=" + id + " type=SOA data=0123456789abcdef ttl=1 comment="},
		"a short ID is not an entry":           {text: "scopedns/1 id=0123 type=A data=0123456789abcdef ttl=1 comment="},
		"fields out of order are not an entry": {text: "scopedns/1 type=A id=" + id + " data=0123456789abcdef ttl=1 comment="},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, ok := parseEntry(c.text)
			if ok != c.ok || got != c.want {
				t.Fatalf("parseEntry = %+v, %v; want %+v, %v", got, ok, c.want, c.ok)
			}
			if ok && got.text() != c.text {
				t.Fatalf("text() = %q, want %q", got.text(), c.text)
			}
		})
	}
}

func TestRegistryNames(t *testing.T) {
	cases := map[string]struct{ name, want string }{
		"a name gets the registry label in front": {"web.example.com", "_scopedns.web.example.com"},
		"a wildcard's star becomes a label":       {"*.apps.example.com", "_scopedns._wildcard.apps.example.com"},
		"a name too long for the label has none":  {string(make([]byte, 0)) + longName(), ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := registryName(c.name); got != c.want {
				t.Fatalf("registryName(%q) = %q, want %q", c.name, got, c.want)
			}
		})
	}
}

func longName() string {
	s := ""
	for len(s) < 240 {
		s += "abcdefghij."
	}
	return s + "com"
}
