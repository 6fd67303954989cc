package wire

import "testing"

// TestConflictDoesNotDependOnOrder: the simulator and the front door hand
// Conflict the records at a name in different orders, and Cloudflare's
// answer must be the same from both. A CNAME beside an A and a TXT is
// refused for the A, beside an MX and a TXT for the MX, in either order.
func TestConflictDoesNotDependOnOrder(t *testing.T) {
	rec := func(id, typ, content string) *Record { return &Record{ID: id, Type: typ, Content: content} }
	cname := rec("new", "CNAME", "elsewhere.example.com")
	cases := []struct {
		name   string
		others []*Record
		want   string
	}{
		{"an A and a TXT", []*Record{rec("1", "A", "192.0.2.1"), rec("2", "TXT", "v=spf1 -all")},
			"An A, AAAA, or CNAME record with that host already exists. For more details, refer to <https://developers.cloudflare.com/dns/manage-dns-records/troubleshooting/records-with-same-name/>."},
		{"an MX and a TXT", []*Record{rec("1", "TXT", "v=spf1 -all"), rec("2", "MX", "mail.example.com")},
			"A record with that host already exists (MX). A CNAME record cannot share its name with any other record."},
	}
	for _, tc := range cases {
		forward := tc.others
		backward := []*Record{forward[1], forward[0]}
		for _, others := range [][]*Record{forward, backward} {
			f := Conflict(others, cname)
			if f == nil {
				t.Fatalf("%s: a CNAME beside them was not refused", tc.name)
			}
			if got := f.Errs[0].Message; got != tc.want {
				t.Errorf("%s, %s first: %q, want %q", tc.name, others[0].Type, got, tc.want)
			}
		}
	}
}
