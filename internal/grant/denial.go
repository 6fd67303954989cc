package grant

import (
	"fmt"
	"strings"
)

// Reason is a stable, machine-readable cause for a Denial, suitable for a
// condition reason.
type Reason string

const (
	ReasonInvalidNamespace Reason = "InvalidNamespace"
	ReasonInvalidName      Reason = "InvalidName"
	ReasonUnsupportedType  Reason = "UnsupportedType"
	ReasonInvalidTTL       Reason = "InvalidTTL"
	ReasonOutsideZones     Reason = "OutsideZones"
	ReasonOutsideRules     Reason = "OutsideRules"
	ReasonTypeNotAllowed   Reason = "TypeNotAllowed"
	ReasonTTLAboveMax      Reason = "TTLAboveMax"
	ReasonApexNS           Reason = "ApexNS"
	ReasonInvalidValues    Reason = "InvalidValues"
	// ReasonOtherExpansion is in expansion.go.
)

// Denial is why Check refused a record. Its message is meant for the team
// that wrote the claim: what was asked, what it was checked against (with
// {namespace} already expanded, so they see their own names), and why.
type Denial struct {
	Namespace string
	Name      string // normalised when it could be, else as given
	Type      string
	Reason    Reason
	Detail    string
	Zone      string   // the zone consulted, if the name fell in one
	Checked   []string // the rules (or zones) consulted, in policy order
	Err       error    // the underlying *FieldError, for invalid names or values
}

func (d *Denial) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "record %s type %s denied for namespace %s: %s", quoteValue(d.Name), quoteValue(d.Type), quoteValue(d.Namespace), d.Detail)
	if d.Zone != "" {
		fmt.Fprintf(&b, "; zone %q", d.Zone)
	}
	if len(d.Checked) > 0 {
		b.WriteString("; checked ")
		b.WriteString(strings.Join(d.Checked, "; "))
	}
	return b.String()
}

func (d *Denial) Unwrap() error { return d.Err }

// Messages land in statuses and events; a policy with hundreds of names must
// not turn one denial into a page.
const maxListed = 8

func limitList(items []string, prefix string) []string {
	if len(items) <= maxListed {
		return []string{prefix + strings.Join(items, ", ")}
	}
	return []string{fmt.Sprintf("%s%s and %d more", prefix, strings.Join(items[:maxListed], ", "), len(items)-maxListed)}
}

func (z *compiledZone) describeAll(rules []int, ns string) []string {
	out := make([]string, 0, min(len(rules), maxListed)+1)
	for i, j := range rules {
		if i == maxListed {
			out = append(out, fmt.Sprintf("and %d more rules", len(rules)-maxListed))
			break
		}
		out = append(out, z.describe(j, ns))
	}
	return out
}

func (z *compiledZone) describe(j int, ns string) string {
	cr := &z.rules[j]
	names := make([]string, len(cr.patterns))
	for i, p := range cr.patterns {
		names[i] = p.expand(ns)
	}
	limit := ""
	if cr.maxTTL != 0 {
		limit = fmt.Sprintf(", maxTTL %d", cr.maxTTL)
	}
	return fmt.Sprintf("rules[%d] (%s; types %s%s)", j, limitList(names, "names ")[0], strings.Join(cr.types.names(), ", "), limit)
}
