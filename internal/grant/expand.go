package grant

// ExpandedRule is one rule of a compiled policy as a namespace sees it: its
// patterns with {namespace} replaced, for listing what a namespace may claim
// (kubectl scopedns grants). It is for reading, never for matching: Check
// is the only judge.
type ExpandedRule struct {
	Zone   string
	Index  int // the rule's index in its zone (rules[Index])
	Names  []string
	Types  []string
	MaxTTL int32 // 0: no limit
}

// Expand lists every rule of every zone, in policy order, with its patterns
// expanded for namespace.
func (c *Compiled) Expand(namespace string) []ExpandedRule {
	var out []ExpandedRule
	for _, z := range c.zones {
		for j := range z.rules {
			cr := &z.rules[j]
			names := make([]string, len(cr.patterns))
			for i, p := range cr.patterns {
				names[i] = p.expand(namespace)
			}
			out = append(out, ExpandedRule{Zone: z.name, Index: j, Names: names, Types: cr.types.names(), MaxTTL: cr.maxTTL})
		}
	}
	return out
}
