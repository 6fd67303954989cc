// Package grant is the policy engine shared by the admission webhook, the
// controllers and the RFC 2136 gateway: it normalises DNS names, compiles the
// name patterns of a DNSScope, decides whether a namespace may own a record,
// validates record values and detects conflicts between claims.
//
// It is pure: no Kubernetes types, no I/O, no clocks. Every caller that
// writes to DNS decides through it, so a claim that slips past a disabled
// webhook is still refused before anything is written.
//
// # Names
//
// All comparisons are made on the output of [NormalizeName]: ASCII lower
// case, no trailing dot, A-labels for internationalised labels, RFC 1035
// lengths. Matching is label by label, never by string suffix, so
// "example.com.evil.net" and "notexample.com" are outside zone "example.com".
//
// # Patterns
//
// A rule name pattern is an absolute name inside its zone, in which a whole
// label may be
//
//   - "*": exactly one label, any label (including a "*" or "_service" label);
//   - "**": one or more labels; at most one per pattern, because a second one
//     adds nothing an admin can reason about and makes matching ambiguous;
//   - a label containing "{namespace}" once, alone ("{namespace}") or with
//     ASCII letters, digits and hyphens around it ("{namespace}-api",
//     "_acme-{namespace}"). It expands to the claiming namespace, which must
//     be an RFC 1123 label, so the expansion can never add a dot or a "*".
//
// The labels of the zone itself must be spelt out literally at the end of
// the pattern. A literal pattern label never matches a wildcard record label:
// "*.app.example.com" is granted only by a pattern whose "*" or "**" covers
// that first label.
//
// Zones may nest; a name belongs to the deepest zone that contains it, like
// DNS delegation, and only that zone's rules are consulted.
package grant
