package grant

// Shareable reports, per zone in policy order, whether more than one
// namespace can hold names in it at once: a pattern with {namespace}, "*" or
// "**" grants many names, and so do several literal (name, type) grants,
// each of which a different namespace may claim first. A zone whose rules
// grant a single literal name and type can have one holder only.
func (c *Compiled) Shareable() []bool {
	out := make([]bool, len(c.zones))
	for zi := range c.zones {
		keys := 0
		for _, r := range c.zones[zi].rules {
			types := 0
			for t := r.types; t != 0; t &= t - 1 {
				types++
			}
			for _, p := range r.patterns {
				if p.templated || p.glob >= 0 || hasStar(p) {
					keys = 2
				}
				keys += types
			}
		}
		out[zi] = keys > 1
	}
	return out
}

func hasStar(p *pattern) bool {
	for _, l := range p.rel {
		if l.kind == starLabel {
			return true
		}
	}
	return false
}
