package provider_test

import (
	"strings"
	"testing"

	"github.com/scopedns/scopedns/internal/provider"
)

func TestOwnerComment(t *testing.T) {
	long := strings.Repeat("a", 63)
	for name, tc := range map[string]struct {
		cluster, namespace, claim string
		want                      string // exact comment, or "" to check only the properties
		hashed                    bool
	}{
		"short names are written plainly": {
			"prod", "team-a", "web", "scopedns:prod:team-a/web", false},
		"dotted claim names are written plainly": {
			"prod", "team-a", "web.v2", "scopedns:prod:team-a/web.v2", false},
		"a long claim is shortened with a hash": {
			"prod", long, long + "-claim", "", true},
		"a long cluster name is shortened with a hash": {
			strings.Repeat("cluster", 10), "team-a", "web", "", false},
		"a cluster name with capitals and colons is sanitised": {
			"Prod:EU", "team-a", "web", "", false},
		"a claim with a separator is hashed rather than misparsed": {
			"prod", "team-a", "we/b", "", true},
	} {
		t.Run(name, func(t *testing.T) {
			c := provider.OwnerComment(tc.cluster, tc.namespace, tc.claim)
			if tc.want != "" && c != tc.want {
				t.Fatalf("OwnerComment = %q, want %q", c, tc.want)
			}
			if len(c) > provider.MaxCommentLength {
				t.Fatalf("OwnerComment = %q is %d characters", c, len(c))
			}
			if c != provider.OwnerComment(tc.cluster, tc.namespace, tc.claim) {
				t.Fatal("OwnerComment is not deterministic")
			}
			if !strings.HasPrefix(c, provider.OwnerPrefix(tc.cluster)) {
				t.Fatalf("%q does not start with OwnerPrefix %q", c, provider.OwnerPrefix(tc.cluster))
			}
			o, ok := provider.ParseOwner(c)
			if !ok {
				t.Fatalf("ParseOwner(%q) failed", c)
			}
			if o.Hashed != tc.hashed {
				t.Fatalf("Hashed = %v, want %v", o.Hashed, tc.hashed)
			}
			if !o.Is(tc.cluster, tc.namespace, tc.claim) || !o.IsCluster(tc.cluster) {
				t.Fatalf("ParseOwner(%q) = %+v does not match its owner", c, o)
			}
			if !o.Hashed && (o.Namespace != tc.namespace || o.Claim != tc.claim) {
				t.Fatalf("ParseOwner(%q) = %+v, want %s/%s", c, o, tc.namespace, tc.claim)
			}
			if o.Is(tc.cluster, tc.namespace, tc.claim+"x") || o.IsCluster(tc.cluster+"x") {
				t.Fatalf("%+v matches another owner", o)
			}
		})
	}
}

func TestParseOwnerRejectsForeignComments(t *testing.T) {
	for _, c := range []string{
		"",
		"managed by hand",
		"heritage=external-dns,external-dns/owner=default",
		"scopedns:",
		"scopedns:prod",
		"scopedns:prod:",
		"scopedns:prod:team-a",
		"scopedns:prod:team-a/",
		"scopedns::team-a/web",
		"scopedns:prod:Team-A/web",
		"scopedns:prod:team-a/web~nothex",
		"scopedns:pr od:team-a/web",
	} {
		if o, ok := provider.ParseOwner(c); ok {
			t.Errorf("ParseOwner(%q) = %+v, want not an owner marker", c, o)
		}
	}
}

func FuzzOwnerComment(f *testing.F) {
	f.Add("prod", "team-a", "web")
	f.Add(strings.Repeat("x", 50), strings.Repeat("n", 63), strings.Repeat("c", 253))
	f.Add("a:b", "n/s", "c~d")
	f.Fuzz(func(t *testing.T, cluster, namespace, claim string) {
		c := provider.OwnerComment(cluster, namespace, claim)
		if len(c) > provider.MaxCommentLength {
			t.Fatalf("%q is longer than %d", c, provider.MaxCommentLength)
		}
		o, ok := provider.ParseOwner(c)
		if !ok || !o.Is(cluster, namespace, claim) || !o.IsCluster(cluster) {
			t.Fatalf("ParseOwner(%q) = %+v, %v", c, o, ok)
		}
		if !strings.HasPrefix(c, provider.OwnerPrefix(cluster)) {
			t.Fatalf("%q lacks the cluster prefix", c)
		}
	})
}

func TestTokenName(t *testing.T) {
	n := provider.TokenName("prod", "public", "team-a", "20250101t000000z")
	if n != "scopedns/prod/public/team-a/20250101t000000z" {
		t.Fatalf("TokenName = %q", n)
	}
	p, ok := provider.ParseTokenName(n)
	if !ok || p.Cluster != "prod" || p.Scope != "public" || p.Namespace != "team-a" || p.Serial != "20250101t000000z" || p.Hashed {
		t.Fatalf("ParseTokenName(%q) = %+v, %v", n, p, ok)
	}
	long := provider.TokenName("prod", strings.Repeat("s", 100), "team-a", "7")
	if len(long) > provider.MaxTokenNameLength || !strings.HasPrefix(long, provider.TokenNamePrefix("prod")) {
		t.Fatalf("long TokenName = %q (%d characters)", long, len(long))
	}
	if p, ok := provider.ParseTokenName(long); !ok || !p.Hashed {
		t.Fatalf("ParseTokenName(%q) = %+v, %v; want a hashed name", long, p, ok)
	}
	if long == provider.TokenName("prod", strings.Repeat("s", 100), "team-a", "8") {
		t.Fatal("shortened names of two serials collide")
	}
	for _, s := range []string{"", "cfsim-master", "scopedns/prod", "scopedns/prod/a/b", "scopedns/prod/a/b/c~zz"} {
		if p, ok := provider.ParseTokenName(s); ok {
			t.Errorf("ParseTokenName(%q) = %+v, want not a scopedns token name", s, p)
		}
	}
}

func FuzzTokenName(f *testing.F) {
	f.Add("prod", "public", "team-a", "1")
	f.Add("Prod", "a/b", strings.Repeat("n", 63), "~")
	f.Fuzz(func(t *testing.T, cluster, scope, namespace, serial string) {
		n := provider.TokenName(cluster, scope, namespace, serial)
		if len(n) > provider.MaxTokenNameLength {
			t.Fatalf("%q is longer than %d", n, provider.MaxTokenNameLength)
		}
		if !strings.HasPrefix(n, provider.TokenNamePrefix(cluster)) {
			t.Fatalf("%q lacks the cluster prefix", n)
		}
		if _, ok := provider.ParseTokenName(n); !ok {
			t.Fatalf("ParseTokenName(%q) failed", n)
		}
	})
}

func TestTokenBelongsTo(t *testing.T) {
	longNS := strings.Repeat("n", 63)
	longScope := strings.Repeat("s", 60)
	for name, tc := range map[string]struct {
		token                     string
		cluster, scope, namespace string
		want                      bool
	}{
		"a token minted for this cluster, scope and namespace belongs": {
			provider.TokenName("it", "prod", "team-a", "abc123"), "it", "prod", "team-a", true},
		"another namespace's token does not belong": {
			provider.TokenName("it", "prod", "team-b", "abc123"), "it", "prod", "team-a", false},
		"a namespace whose name extends this one does not belong": {
			provider.TokenName("it", "prod", "team-a-x", "abc123"), "it", "prod", "team-a", false},
		"another scope's token does not belong": {
			provider.TokenName("it", "staging", "team-a", "abc123"), "it", "prod", "team-a", false},
		"another cluster's token does not belong": {
			provider.TokenName("other", "prod", "team-a", "abc123"), "it", "prod", "team-a", false},
		"a token made by hand does not belong": {
			"ci-pipeline", "it", "prod", "team-a", false},
		"a shortened name of this namespace belongs": {
			provider.TokenName("it", longScope, longNS, "abc123"), "it", longScope, longNS, true},
		"a shortened name of another scope does not belong": {
			provider.TokenName("it", longScope, longNS, "abc123"), "it", "m" + longScope[1:], longNS, false},
		"a shortened name of another namespace does not belong": {
			provider.TokenName("it", "prod", longNS+"."+longNS, "abc123"), "it", "prod", "m" + longNS, false},
		"a shortened name with an invalid hash does not belong": {
			"scopedns/it/prod/team-a/abc~xyz", "it", "prod", "team-a", false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := provider.TokenBelongsTo(tc.token, tc.cluster, tc.scope, tc.namespace); got != tc.want {
				t.Fatalf("TokenBelongsTo(%q, %q, %q, %q) = %v, want %v", tc.token, tc.cluster, tc.scope, tc.namespace, got, tc.want)
			}
		})
	}
}
