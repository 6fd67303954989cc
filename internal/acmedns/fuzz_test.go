package acmedns

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzUpdateBody: whatever the body, an authenticated request is answered
// with one of acme-dns's answers, and it is written only when the body's
// subdomain is the account's and its txt 43 characters of base64url; the
// answer's value is then the one written.
func FuzzUpdateBody(f *testing.F) {
	for _, s := range []string{
		body(subA, validValue), body(subB, validValue), body(subA, validValue+"A"), `{"SubDomain":"` + subA + `","Txt":"` + validValue + `"}`,
		``, `{`, `null`, `[]`, `"x"`, `{"subdomain":5}`, `{"txt":"` + validValue + `"}`, body(subA, validValue) + `garbage`,
	} {
		f.Add(s)
	}
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, b string) {
		before := len(fx.w.requests())
		rec := fx.do("POST", "/update", userA, passA, b)
		wrote := len(fx.w.requests()) > before
		switch rec.Code {
		case 200:
			var got struct{ TXT string }
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || !validTXT(got.TXT) || !wrote {
				t.Fatalf("200 with body %q (wrote %v) for %q", rec.Body.String(), wrote, b)
			}
			last := fx.w.requests()[len(fx.w.requests())-1]
			if last.Ops[0].Content != got.TXT || last.Ops[0].Name != nameA {
				t.Fatalf("answered %q, wrote %+v", got.TXT, last.Ops[0])
			}
		case 400, 401:
			if wrote {
				t.Fatalf("%d for %q, yet written", rec.Code, b)
			}
			if !strings.HasPrefix(rec.Body.String(), `{"error": "`) {
				t.Fatalf("%d body %q", rec.Code, rec.Body.String())
			}
		default:
			t.Fatalf("answered %d for %q", rec.Code, b)
		}
	})
}
