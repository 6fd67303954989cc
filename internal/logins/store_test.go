package logins

import (
	"fmt"
	"testing"
)

type login struct{ Username, Password string }

func name(l login) string { return l.Username }

func TestSetReplacesOneGroupOnly(t *testing.T) {
	var s Store[login]
	s.Set("ns-a/scope", []login{{"a1", "1"}, {"a2", "2"}}, name)
	s.Set("ns-b/scope", []login{{"b1", "3"}}, name)
	if l, ok := s.Get("a1"); !ok || l.Password != "1" || s.Len() != 3 {
		t.Fatalf("after both groups: %+v %v, %d held", l, ok, s.Len())
	}
	s.Set("ns-a/scope", []login{{"a2", "4"}}, name)
	if _, ok := s.Get("a1"); ok {
		t.Fatal("a login the group no longer has is still found")
	}
	if l, _ := s.Get("a2"); l.Password != "4" {
		t.Fatalf("a2 = %+v, want the group's new login", l)
	}
	if l, ok := s.Get("b1"); !ok || l.Password != "3" || s.Len() != 2 {
		t.Fatalf("the other group changed: %+v %v, %d held", l, ok, s.Len())
	}
	s.Set("ns-a/scope", nil, name)
	if _, ok := s.Get("a2"); ok || s.Len() != 1 {
		t.Fatalf("a removed group's login is still found, %d held", s.Len())
	}
}

func TestSetNeverTakesAnotherGroupsUsername(t *testing.T) {
	var s Store[login]
	s.Set("victim/scope", []login{{"shared", "victim"}}, name)
	s.Set("attacker/scope", []login{{"shared", "attacker"}, {"own", "x"}}, name)
	if l, _ := s.Get("shared"); l.Password != "victim" {
		t.Fatalf("shared = %+v: a second group took the first one's username", l)
	}
	s.Set("attacker/scope", nil, name)
	if l, ok := s.Get("shared"); !ok || l.Password != "victim" {
		t.Fatalf("removing the second group removed the first one's login: %+v %v", l, ok)
	}
	if _, ok := s.Get("own"); ok {
		t.Fatal("the removed group's own login is still found")
	}
}

// BenchmarkSetOneGroup shows that setting one group costs the same with 100
// groups held as with 10,000: the reconcile of one namespace is O(its own
// logins).
func BenchmarkSetOneGroup(b *testing.B) {
	for _, groups := range []int{100, 10_000} {
		b.Run(fmt.Sprintf("groups=%d", groups), func(b *testing.B) {
			var s Store[login]
			for g := range groups {
				s.Set(fmt.Sprintf("ns-%d/scope", g), []login{{fmt.Sprintf("u-%d", g), "p"}}, name)
			}
			b.ResetTimer()
			for i := range b.N {
				g := i % groups
				s.Set(fmt.Sprintf("ns-%d/scope", g), []login{{fmt.Sprintf("u-%d", g), fmt.Sprint(i)}}, name)
			}
		})
	}
}
