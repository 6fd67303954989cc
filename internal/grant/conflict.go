package grant

import "strings"

// Key identifies one record set a claim owns. Names should be normalised;
// Conflicts still ignores ASCII case and one trailing dot so that a caller
// that forgot cannot create two owners for one record set.
type Key struct {
	Name, Type string
}

// Conflicts reports whether two claims cannot both own their keys:
//
//   - the same name and type is one record set, so one owner;
//   - a CNAME owns its whole name (RFC 1034 §3.6.2): no other type beside it;
//   - an NS delegates its name away (RFC 1034 §4.2.1): data at the name
//     other than NS, and every name below it, would be occluded in the zone,
//     so whoever claims the delegation conflicts with all of them.
func Conflicts(a, b Key) bool {
	an, bn := canonicalKeyName(a.Name), canonicalKeyName(b.Name)
	if an == bn {
		return a.Type == b.Type || a.Type == "CNAME" || b.Type == "CNAME" || a.Type == "NS" || b.Type == "NS"
	}
	return (a.Type == "NS" && below(bn, an)) || (b.Type == "NS" && below(an, bn))
}

// below reports whether name is strictly under parent, label-wise.
func below(name, parent string) bool {
	return len(name) > len(parent)+1 && strings.HasSuffix(name, parent) && name[len(name)-len(parent)-1] == '.'
}

func canonicalKeyName(n string) string {
	return lowerASCII(strings.TrimSuffix(n, "."))
}
