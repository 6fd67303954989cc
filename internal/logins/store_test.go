package logins

import "testing"

type login struct{ Username, Password string }

func TestReplaceSwapsTheWholeSet(t *testing.T) {
	var s Store[login]
	name := func(l login) string { return l.Username }
	s.Replace([]login{{"a", "1"}, {"b", "2"}}, name)
	if l, ok := s.Get("a"); !ok || l.Password != "1" || s.Len() != 2 {
		t.Fatalf("after the first set: %+v %v, %d held", l, ok, s.Len())
	}
	s.Replace([]login{{"b", "3"}}, name)
	if _, ok := s.Get("a"); ok {
		t.Fatal("a login taken back is still found")
	}
	if l, _ := s.Get("b"); l.Password != "3" || s.Len() != 1 {
		t.Fatalf("after the second set: %+v, %d held", l, s.Len())
	}
}
