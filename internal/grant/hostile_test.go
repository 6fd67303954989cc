package grant

import (
	"errors"
	"strings"
	"testing"
)

var (
	label63 = strings.Repeat("a", 63)
	label64 = strings.Repeat("a", 64)
	// name253 is four 63-octet labels minus two octets: the longest legal name.
	name253 = label63 + "." + label63 + "." + label63 + "." + strings.Repeat("a", 61)
	name254 = name253 + "a"
)

type hostileName struct {
	in   string
	want string // normalised output; empty means the name must be rejected
	rule string // a substring of the rejection
}

// hostileNames are names an attacker or a careless user would try. Some fold
// cleanly to the ASCII name they look like and are accepted; the rest must
// be rejected with a rule that says why.
var hostileNames = map[string]hostileName{
	"rejects an empty name":                                     {in: "", rule: "must not be empty"},
	"rejects the root name":                                     {in: ".", rule: "root name"},
	"rejects two dots alone":                                    {in: "..", rule: "empty labels"},
	"rejects an empty label in the middle":                      {in: "a..example.com", rule: "empty labels"},
	"rejects a leading dot":                                     {in: ".example.com", rule: "empty labels"},
	"rejects two trailing dots":                                 {in: "example.com..", rule: "empty labels"},
	"rejects a 64-octet label":                                  {in: label64 + ".example.com", rule: "1 to 63"},
	"accepts a 63-octet label":                                  {in: label63 + ".example.com", want: label63 + ".example.com"},
	"rejects a 254-octet name":                                  {in: name254, rule: "at most 253"},
	"accepts a 253-octet name":                                  {in: name253, want: name253},
	"accepts a 253-octet name with its trailing dot":            {in: name253 + ".", want: name253},
	"rejects a long internationalised label without echoing it": {in: strings.Repeat("\u00fc", 500) + ".example", rule: "octets as an A-label"},
	"rejects hundreds of right-to-left labels early":            {in: strings.Repeat("\u0645.", 300) + "example", rule: "at most 127"},
	"rejects a long disallowed label without echoing it":        {in: strings.Repeat("\u2488", 300), rule: "disallowed rune"},
	"rejects megabytes of input before mapping it":              {in: strings.Repeat("a.", 1<<20), rule: "at most 253"},
	"rejects a star in the middle of a name":                    {in: "a.*.example.com", rule: "whole first label"},
	"rejects a star as the last label":                          {in: "example.*", rule: "whole first label"},
	"rejects two leading stars":                                 {in: "*.*.example.com", rule: "whole first label"},
	"rejects a double star":                                     {in: "**.example.com", rule: "whole label"},
	"rejects a double star pair":                                {in: "**.**", rule: "whole label"},
	"rejects a star glued to letters":                           {in: "a*.example.com", rule: "whole label"},
	"rejects letters glued after a star":                        {in: "*a.example.com", rule: "whole label"},
	"rejects a double star glued to letters":                    {in: "a**.example.com", rule: "whole label"},
	"accepts a wildcard record name":                            {in: "*.app.example.com", want: "*.app.example.com"},
	"rejects a NUL byte":                                        {in: "exa\x00mple.com", rule: "control characters"},
	"rejects a NUL byte that hides a suffix":                    {in: "example.com\x00.evil.net", rule: "control characters"},
	"rejects a tab":                                             {in: "example\t.com", rule: "control characters"},
	"rejects a newline":                                         {in: "example.com\nevil.net", rule: "control characters"},
	"rejects a carriage return":                                 {in: "example.com\r", rule: "control characters"},
	"rejects DEL":                                               {in: "exa\x7fmple.com", rule: "control characters"},
	"rejects a space":                                           {in: "exa mple.com", rule: "spaces"},
	"rejects a leading space":                                   {in: " example.com", rule: "spaces"},
	"rejects invalid UTF-8":                                     {in: "ex\xffample.com", rule: "UTF-8"},
	"rejects an overlong UTF-8 dot":                             {in: "example\xc0\xaecom", rule: "UTF-8"},
	"folds upper case":                                          {in: "WWW.Example.COM", want: "www.example.com"},
	"strips one trailing dot":                                   {in: "example.com.", want: "example.com"},
	"rejects a Cyrillic a inside a Latin label":                 {in: "ex\u0430mple.com", rule: "mixes scripts"},
	"rejects a Cyrillic o inside a Latin label":                 {in: "g\u043e\u043egle.com", rule: "mixes scripts"},
	"rejects a Greek omicron inside a Latin label":              {in: "g\u03bf\u03bfgle.com", rule: "mixes scripts"},
	"rejects an all-Cyrillic look-alike of ASCII":               {in: "\u0430\u0440\u0435.com", rule: "looks like a Latin letter"},
	"rejects an all-Cyrillic look-alike as an A-label":          {in: "xn--80ak6aa92e.com", rule: "looks like a Latin letter"},
	"rejects an all-Greek look-alike of ASCII":                  {in: "\u03bf\u03c1.com", rule: "looks like a Latin letter"},
	"rejects a mixed-script A-label":                            {in: "xn--exmple-4nf.com", rule: "mixes scripts"},
	"rejects a Latin script g look-alike":                       {in: "\u0261oogle.com", rule: "looks like an ASCII letter"},
	"rejects a dotless i":                                       {in: "b\u0131t.com", rule: "looks like an ASCII letter"},
	"rejects i with a combining dot":                            {in: "\u0130stanbul.com", rule: "combining dot"},
	"folds fullwidth letters to ASCII":                          {in: "\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com", want: "example.com"},
	"folds a fullwidth dot to a separator":                      {in: "example\uff0ecom", want: "example.com"},
	"folds an ideographic full stop to a separator":             {in: "example\u3002com\u3002", want: "example.com"},
	"folds a ligature":                                          {in: "\ufb01le.example.com", want: "file.example.com"},
	"folds the Kelvin sign":                                     {in: "\u212aelvin.example", want: "kelvin.example"},
	"drops a soft hyphen":                                       {in: "exa\u00admple.com", want: "example.com"},
	"rejects a label that maps to nothing":                      {in: "a.\u00ad.com", rule: "maps to nothing"},
	"rejects a label of an ideographic full stop alone":         {in: "\u3002", rule: "root name"},
	"rejects a parenthesised digit that hides a dot":            {in: "a\u2488com", rule: "not a valid internationalised label"},
	"rejects a fullwidth star":                                  {in: "\uff0a.example.com", rule: "not a valid internationalised label"},
	"rejects a fullwidth underscore":                            {in: "\uff3facme.example.com", rule: "not a valid internationalised label"},
	"rejects a zero width joiner out of context":                {in: "a\u200db.com", rule: "not a valid internationalised label"},
	"rejects a right-to-left override":                          {in: "moc\u202e.example", rule: "not a valid internationalised label"},
	"rejects an emoji":                                          {in: "\U0001F4A9.la", rule: "IDNA2008"},
	"rejects a left-to-right label beside an Arabic one":        {in: "1a.\u0645\u062b\u0627\u0644", rule: "Bidi"},
	"accepts an Arabic name":                                    {in: "\u0645\u062b\u0627\u0644.example", want: "xn--mgbh0fb.example"},
	"accepts a German name":                                     {in: "B\u00fccher.example", want: "xn--bcher-kva.example"},
	"accepts an upper-case A-label":                             {in: "XN--BCHER-KVA.example", want: "xn--bcher-kva.example"},
	"accepts a Japanese label mixing Han and kana":              {in: "\u65e5\u672c\u3054.example", want: "xn--38jv62nb2a.example"},
	"rejects an empty A-label":                                  {in: "xn--.example", rule: "maps to nothing"},
	"rejects an A-label with a trailing hyphen":                 {in: "xn--abc-.example", rule: "not a valid internationalised label"},
	"rejects an A-label that decodes to garbage":                {in: "xn--abc.example", rule: "not a valid internationalised label"},
	"rejects an A-label of plain ASCII":                         {in: "xn--example-.com", rule: "not a valid internationalised label"},
	"rejects an underscore inside a label":                      {in: "acme_challenge.example.com", rule: `"_" is allowed only as the first`},
	"rejects a lone underscore":                                 {in: "_.example.com", rule: "needs a name"},
	"rejects a double underscore":                               {in: "__acme.example.com", rule: `"_" is allowed only as the first`},
	"rejects a non-ASCII service label":                         {in: "_\u00fc.example.com", rule: "labels hold only"},
	"accepts service labels":                                    {in: "_acme-challenge._TCP.example.com", want: "_acme-challenge._tcp.example.com"},
	"rejects a leading hyphen":                                  {in: "-a.example.com", rule: "hyphen"},
	"rejects a trailing hyphen":                                 {in: "a-.example.com", rule: "hyphen"},
	"rejects a hyphen after the underscore":                     {in: "_-a.example.com", rule: "hyphen"},
	"accepts hyphens in the third and fourth place":             {in: "ab--cd.example.com", want: "ab--cd.example.com"},
	"rejects a slash":                                           {in: "example.com/evil", rule: "letters, digits and hyphens"},
	"rejects a port":                                            {in: "example.com:53", rule: "letters, digits and hyphens"},
	"rejects an at sign":                                        {in: "user@example.com", rule: "letters, digits and hyphens"},
	"rejects a backslash escape":                                {in: "a\\.example.com", rule: "letters, digits and hyphens"},
	"rejects a percent escape":                                  {in: "a%2eexample.com", rule: "letters, digits and hyphens"},
	"rejects a template in a record name":                       {in: "{namespace}.example.com", rule: "letters, digits and hyphens"},
}

type hostileCheck struct {
	ns     string
	rec    Record
	reason Reason // empty: the record must be granted
	want   string // normalised name when granted
}

// hostileChecks run against testPolicy.
var hostileChecks = map[string]hostileCheck{
	"rejects a name whose zone is only a string suffix":         {ns: "team-a", rec: Record{Name: "team-a.apps.notexample.com", Type: "A"}, reason: ReasonOutsideZones},
	"rejects a name just outside the zone":                      {ns: "team-a", rec: Record{Name: "notexample.com", Type: "A"}, reason: ReasonOutsideZones},
	"rejects the zone followed by another domain":               {ns: "team-a", rec: Record{Name: "example.com.evil.net", Type: "A"}, reason: ReasonOutsideZones},
	"rejects a granted name followed by another domain":         {ns: "team-a", rec: Record{Name: "team-a.apps.example.com.evil.net", Type: "A"}, reason: ReasonOutsideZones},
	"rejects a name in a zone's parent":                         {ns: "team-a", rec: Record{Name: "com", Type: "A"}, reason: ReasonOutsideZones},
	"rejects a look-alike zone":                                 {ns: "team-a", rec: Record{Name: "team-a.apps.ex\u0430mple.com", Type: "A"}, reason: ReasonInvalidName},
	"rejects a near-miss zone":                                  {ns: "team-a", rec: Record{Name: "team-a.apps.example.co", Type: "A"}, reason: ReasonOutsideZones},
	"rejects another namespace's name":                          {ns: "team-a", rec: Record{Name: "team-b.apps.example.com", Type: "A"}, reason: ReasonOutsideRules},
	"rejects a name under another namespace's name":             {ns: "team-a", rec: Record{Name: "web.team-b.apps.example.com", Type: "A"}, reason: ReasonOutsideRules},
	"rejects a namespace that is a prefix of the label":         {ns: "team", rec: Record{Name: "team-a.apps.example.com", Type: "A"}, reason: ReasonOutsideRules},
	"rejects a namespace that is a prefix inside a label":       {ns: "team", rec: Record{Name: "api-team-a.example.com", Type: "CNAME"}, reason: ReasonOutsideRules},
	"rejects a namespace with a dot":                            {ns: "team-a.apps", rec: Record{Name: "x.team-a.apps.apps.example.com", Type: "A"}, reason: ReasonInvalidNamespace},
	"rejects a namespace that is a star":                        {ns: "*", rec: Record{Name: "*.apps.example.com", Type: "A"}, reason: ReasonInvalidNamespace},
	"rejects a namespace that is a double star":                 {ns: "**", rec: Record{Name: "a.b.apps.example.com", Type: "A"}, reason: ReasonInvalidNamespace},
	"rejects a namespace that is a whole domain":                {ns: "evil.net", rec: Record{Name: "evil.net.apps.example.com", Type: "A"}, reason: ReasonInvalidNamespace},
	"rejects an empty namespace":                                {ns: "", rec: Record{Name: "apps.example.com", Type: "A"}, reason: ReasonInvalidNamespace},
	"rejects an upper-case namespace":                           {ns: "Team-A", rec: Record{Name: "team-a.apps.example.com", Type: "A"}, reason: ReasonInvalidNamespace},
	"rejects a namespace that is the placeholder":               {ns: "{namespace}", rec: Record{Name: "a.apps.example.com", Type: "A"}, reason: ReasonInvalidNamespace},
	"rejects a namespace with a leading hyphen":                 {ns: "-a", rec: Record{Name: "-a.apps.example.com", Type: "A"}, reason: ReasonInvalidNamespace},
	"rejects a namespace with a NUL byte":                       {ns: "team-a\x00", rec: Record{Name: "team-a.apps.example.com", Type: "A"}, reason: ReasonInvalidNamespace},
	"rejects a 64-character namespace":                          {ns: label64, rec: Record{Name: "a.apps.example.com", Type: "A"}, reason: ReasonInvalidNamespace},
	"rejects a namespace with an underscore":                    {ns: "_acme", rec: Record{Name: "_acme.apps.example.com", Type: "A"}, reason: ReasonInvalidNamespace},
	"rejects a wildcard record where the pattern is a literal":  {ns: "team-a", rec: Record{Name: "*.apps.example.com", Type: "A"}, reason: ReasonOutsideRules},
	"grants a wildcard record under a star":                     {ns: "team-a", rec: Record{Name: "*.team-a.apps.example.com", Type: "A"}, want: "*.team-a.apps.example.com"},
	"rejects a star that is not the first label":                {ns: "team-a", rec: Record{Name: "_acme-challenge.*.team-a.apps.example.com", Type: "TXT"}, reason: ReasonInvalidName},
	"rejects two labels where the pattern has one star":         {ns: "team-a", rec: Record{Name: "x.y.team-a.apps.example.com", Type: "A"}, reason: ReasonOutsideRules},
	"rejects a double star in a record name":                    {ns: "team-a", rec: Record{Name: "**.team-a.dev.example.com", Type: "A"}, reason: ReasonInvalidName},
	"rejects zero labels for a double star":                     {ns: "team-a", rec: Record{Name: "team-a.dev.example.com", Type: "A"}, reason: ReasonOutsideRules},
	"grants many labels for a double star":                      {ns: "team-a", rec: Record{Name: "a.b.c.team-a.dev.example.com", Type: "A"}, want: "a.b.c.team-a.dev.example.com"},
	"rejects a double star match that repeats the zone":         {ns: "team-a", rec: Record{Name: "a.team-a.dev.example.com.example.com", Type: "A"}, reason: ReasonOutsideRules},
	"rejects a namespace glued to the next label":               {ns: "team-a", rec: Record{Name: "a.team-adev.example.com", Type: "A"}, reason: ReasonOutsideRules},
	"rejects a type the matching rule does not allow":           {ns: "team-a", rec: Record{Name: "team-a.apps.example.com", Type: "NS"}, reason: ReasonTypeNotAllowed},
	"rejects a lower-case type":                                 {ns: "team-a", rec: Record{Name: "team-a.apps.example.com", Type: "a"}, reason: ReasonUnsupportedType},
	"rejects an unsupported type":                               {ns: "team-a", rec: Record{Name: "team-a.apps.example.com", Type: "ANY"}, reason: ReasonUnsupportedType},
	"rejects an empty type":                                     {ns: "team-a", rec: Record{Name: "team-a.apps.example.com"}, reason: ReasonUnsupportedType},
	"rejects a TTL above maxTTL":                                {ns: "team-a", rec: Record{Name: "team-a.apps.example.com", Type: "A", TTL: 3601}, reason: ReasonTTLAboveMax},
	"rejects a negative TTL":                                    {ns: "team-a", rec: Record{Name: "team-a.apps.example.com", Type: "A", TTL: -1}, reason: ReasonInvalidTTL},
	"grants a TTL equal to maxTTL":                              {ns: "team-a", rec: Record{Name: "team-a.apps.example.com", Type: "A", TTL: 3600}, want: "team-a.apps.example.com"},
	"grants an upper-case name with a trailing dot":             {ns: "team-a", rec: Record{Name: "TEAM-A.Apps.EXAMPLE.com.", Type: "A"}, want: "team-a.apps.example.com"},
	"grants a name written with ideographic full stops":         {ns: "team-a", rec: Record{Name: "team-a\u3002apps\u3002example\u3002com", Type: "A"}, want: "team-a.apps.example.com"},
	"grants a fullwidth name as the ASCII name":                 {ns: "team-a", rec: Record{Name: "team-a.apps.\uff45xample.com", Type: "A"}, want: "team-a.apps.example.com"},
	"rejects an empty label":                                    {ns: "team-a", rec: Record{Name: "team-a..apps.example.com", Type: "A"}, reason: ReasonInvalidName},
	"rejects a leading dot":                                     {ns: "team-a", rec: Record{Name: ".team-a.apps.example.com", Type: "A"}, reason: ReasonInvalidName},
	"rejects two trailing dots":                                 {ns: "team-a", rec: Record{Name: "team-a.apps.example.com..", Type: "A"}, reason: ReasonInvalidName},
	"rejects a NUL byte before another domain":                  {ns: "team-a", rec: Record{Name: "team-a.apps.example.com\x00.evil.net", Type: "A"}, reason: ReasonInvalidName},
	"rejects a space":                                           {ns: "team-a", rec: Record{Name: "team-a .apps.example.com", Type: "A"}, reason: ReasonInvalidName},
	"rejects a 64-octet label in a granted zone":                {ns: "team-a", rec: Record{Name: label64 + ".team-a.dev.example.com", Type: "A"}, reason: ReasonInvalidName},
	"rejects a 254-octet name in a granted zone":                {ns: "team-a", rec: Record{Name: strings.Repeat("a.", 116) + "team-a.dev.example.com", Type: "A"}, reason: ReasonInvalidName},
	"rejects NS at the zone apex":                               {ns: "team-a", rec: Record{Name: "example.com", Type: "NS"}, reason: ReasonApexNS},
	"rejects a name in a nested zone under the parent's rules":  {ns: "team-a", rec: Record{Name: "team-a.apps.internal.example.com", Type: "A"}, reason: ReasonOutsideRules},
	"grants a name in a nested zone by that zone's rules":       {ns: "team-a", rec: Record{Name: "team-a.internal.example.com", Type: "A"}, want: "team-a.internal.example.com"},
	"grants an internationalised name as its A-label":           {ns: "team-a", rec: Record{Name: "team-a.B\u00dcCHER.example", Type: "A"}, want: "team-a.xn--bcher-kva.example"},
	"rejects the ASCII look-alike of an internationalised zone": {ns: "team-a", rec: Record{Name: "team-a.bucher.example", Type: "A"}, reason: ReasonOutsideZones},
	"rejects a NUL byte in a value":                             {ns: "team-a", rec: Record{Name: "_acme-challenge.team-a.apps.example.com", Type: "TXT", Values: []string{"tok\x00en"}}, reason: ReasonInvalidValues},
	"rejects an IPv4 address with a leading zero":               {ns: "team-a", rec: Record{Name: "team-a.apps.example.com", Type: "A", Values: []string{"192.0.2.010"}}, reason: ReasonInvalidValues},
	"rejects a CNAME with two targets":                          {ns: "team-a", rec: Record{Name: "www.team-a.apps.example.com", Type: "CNAME", Values: []string{"a.example.net", "b.example.net"}}, reason: ReasonInvalidValues},
	"rejects a wildcard CNAME target":                           {ns: "team-a", rec: Record{Name: "www.team-a.apps.example.com", Type: "CNAME", Values: []string{"*.example.net"}}, reason: ReasonInvalidValues},
	"rejects a template that only shares a prefix":              {ns: "team-a", rec: Record{Name: "api-team-ab.example.com", Type: "CNAME"}, reason: ReasonOutsideRules},
	"rejects a zero-width space that splits the namespace":      {ns: "team-a", rec: Record{Name: "team-a\u200b.b.apps.example.com", Type: "A"}, reason: ReasonOutsideRules},
}

type hostilePolicy struct {
	policy Policy
	field  string // the field path the error must name
	rule   string // a substring of the broken rule
}

func zonePolicy(zone string) Policy {
	return Policy{Zones: []Zone{{Name: zone, Rules: []Rule{{Names: []string{"a." + strings.TrimSuffix(zone, ".")}, Types: []string{"A"}}}}}}
}

func typesPolicy(types ...string) Policy {
	return Policy{Zones: []Zone{{Name: "example.com", Rules: []Rule{{Names: []string{"a.example.com"}, Types: types}}}}}
}

const names0 = "spec.zones[0].rules[0].names[0]"

var hostilePolicies = map[string]hostilePolicy{
	"rejects a double star as the zone":                {policy: zonePolicy("**"), field: "spec.zones[0].name", rule: "whole label"},
	"rejects a star as the zone":                       {policy: zonePolicy("*"), field: "spec.zones[0].name", rule: `"*" is not allowed`},
	"rejects a wildcard zone":                          {policy: zonePolicy("*.example.com"), field: "spec.zones[0].name", rule: `"*" is not allowed`},
	"rejects an empty zone":                            {policy: zonePolicy(""), field: "spec.zones[0].name", rule: "must not be empty"},
	"rejects the root as a zone":                       {policy: zonePolicy("."), field: "spec.zones[0].name", rule: "root name"},
	"rejects a service label in a zone":                {policy: zonePolicy("_tcp.example.com"), field: "spec.zones[0].name", rule: "no service labels"},
	"rejects an empty label in a zone":                 {policy: zonePolicy("example..com"), field: "spec.zones[0].name", rule: "empty labels"},
	"rejects a look-alike zone":                        {policy: zonePolicy("ex\u0430mple.com"), field: "spec.zones[0].name", rule: "mixes scripts"},
	"rejects a template in a zone":                     {policy: zonePolicy("{namespace}.example.com"), field: "spec.zones[0].name", rule: "letters, digits and hyphens"},
	"rejects no zones":                                 {policy: Policy{}, field: "spec.zones", rule: "at least one zone"},
	"rejects a zone without rules":                     {policy: Policy{Zones: []Zone{{Name: "example.com"}}}, field: "spec.zones[0].rules", rule: "at least one rule"},
	"rejects a rule without names":                     {policy: Policy{Zones: []Zone{{Name: "example.com", Rules: []Rule{{Types: []string{"A"}}}}}}, field: "spec.zones[0].rules[0].names", rule: "at least one name"},
	"rejects a rule without types":                     {policy: typesPolicy(), field: "spec.zones[0].rules[0].types", rule: "at least one type"},
	"rejects a lower-case type":                        {policy: typesPolicy("a"), field: "spec.zones[0].rules[0].types[0]", rule: "unsupported type"},
	"rejects an unsupported type":                      {policy: typesPolicy("A", "SOA"), field: "spec.zones[0].rules[0].types[1]", rule: "unsupported type"},
	"rejects an empty type":                            {policy: typesPolicy(""), field: "spec.zones[0].rules[0].types[0]", rule: "unsupported type"},
	"rejects a duplicate type":                         {policy: typesPolicy("A", "TXT", "A"), field: "spec.zones[0].rules[0].types[2]", rule: "duplicate type"},
	"rejects a negative maxTTL":                        {policy: Policy{Zones: []Zone{{Name: "example.com", Rules: []Rule{{Names: []string{"a.example.com"}, Types: []string{"A"}, MaxTTL: -5}}}}}, field: "spec.zones[0].rules[0].maxTTL", rule: "positive"},
	"rejects a duplicate zone":                         {policy: Policy{Zones: []Zone{zonePolicy("example.com").Zones[0], zonePolicy("EXAMPLE.com.").Zones[0]}}, field: "spec.zones[1].name", rule: "already spec.zones[0]"},
	"rejects a double star pair":                       {policy: onePattern("example.com", "**.**.example.com"), field: names0, rule: `at most one "**"`},
	"rejects two separated double stars":               {policy: onePattern("example.com", "**.a.**.example.com"), field: names0, rule: `at most one "**"`},
	"rejects a double star glued to letters":           {policy: onePattern("example.com", "a**.example.com"), field: names0, rule: "whole label"},
	"rejects letters glued after a double star":        {policy: onePattern("example.com", "**a.example.com"), field: names0, rule: "whole label"},
	"rejects a star glued to letters":                  {policy: onePattern("example.com", "a*.example.com"), field: names0, rule: "whole label"},
	"rejects a triple star":                            {policy: onePattern("example.com", "***.example.com"), field: names0, rule: "whole label"},
	"rejects a pattern that is only a double star":     {policy: onePattern("example.com", "**"), field: names0, rule: "inside zone"},
	"rejects a pattern that is only a star":            {policy: onePattern("example.com", "*"), field: names0, rule: "inside zone"},
	"rejects a wildcard over the zone's own labels":    {policy: onePattern("example.com", "**.com"), field: names0, rule: "inside zone"},
	"rejects a star in place of a zone label":          {policy: onePattern("example.com", "a.*.com"), field: names0, rule: "inside zone"},
	"rejects a pattern just outside the zone":          {policy: onePattern("example.com", "notexample.com"), field: names0, rule: "inside zone"},
	"rejects the zone followed by another domain":      {policy: onePattern("example.com", "a.example.com.evil.net"), field: names0, rule: "inside zone"},
	"rejects a parent of the zone":                     {policy: onePattern("example.com", "com"), field: names0, rule: "inside zone"},
	"rejects a template in place of a zone label":      {policy: onePattern("example.com", "a.{namespace}.com"), field: names0, rule: "inside zone"},
	"rejects a pattern that is only the placeholder":   {policy: onePattern("example.com", "{namespace}"), field: names0, rule: "inside zone"},
	"rejects an unknown placeholder":                   {policy: onePattern("example.com", "{ns}.example.com"), field: names0, rule: "the only placeholder"},
	"rejects an unclosed placeholder":                  {policy: onePattern("example.com", "{namespace.example.com"), field: names0, rule: "the only placeholder"},
	"rejects a stray closing brace":                    {policy: onePattern("example.com", "namespace}.example.com"), field: names0, rule: "the only placeholder"},
	"rejects a placeholder twice in a label":           {policy: onePattern("example.com", "{namespace}{namespace}.example.com"), field: names0, rule: "once per label"},
	"rejects double braces":                            {policy: onePattern("example.com", "{{namespace}}.example.com"), field: names0, rule: "once per label"},
	"rejects a template that would be an A-label":      {policy: onePattern("example.com", "xn--{namespace}.example.com"), field: names0, rule: "cannot be an A-label"},
	"rejects a template ending in a hyphen":            {policy: onePattern("example.com", "{namespace}-.example.com"), field: names0, rule: "hyphen"},
	"rejects a template starting with a hyphen":        {policy: onePattern("example.com", "-{namespace}.example.com"), field: names0, rule: "hyphen"},
	"rejects an underscore inside a template":          {policy: onePattern("example.com", "{namespace}_x.example.com"), field: names0, rule: "leading"},
	"rejects a star glued to a template":               {policy: onePattern("example.com", "*{namespace}.example.com"), field: names0, rule: "whole label"},
	"rejects non-ASCII around a template":              {policy: onePattern("example.com", "\u00fc{namespace}.example.com"), field: names0, rule: "only letters, digits"},
	"rejects a template that can never fit in a label": {policy: onePattern("example.com", label63+"{namespace}.example.com"), field: names0, rule: "never match"},
	"rejects a pattern that can never fit in a name":   {policy: onePattern("example.com", strings.Repeat(label63+".", 3)+"{namespace}-"+strings.Repeat("a", 50)+".example.com"), field: names0, rule: "never match"},
	"rejects an empty pattern":                         {policy: onePattern("example.com", ""), field: names0, rule: "must not be empty"},
	"rejects an empty label in a pattern":              {policy: onePattern("example.com", "a..example.com"), field: names0, rule: "empty labels"},
	"rejects a NUL byte in a pattern":                  {policy: onePattern("example.com", "a\x00.example.com"), field: names0, rule: "control characters"},
	"rejects a look-alike label in a pattern":          {policy: onePattern("example.com", "\u0430\u0440\u0440.example.com"), field: names0, rule: "looks like a Latin letter"},
	"rejects a duplicate pattern":                      {policy: onePattern("example.com", "a.example.com", "A.example.com."), field: "spec.zones[0].rules[0].names[1]", rule: "duplicates names[0]"},
	"rejects a 64-octet label in a pattern":            {policy: onePattern("example.com", label64+".example.com"), field: names0, rule: "1 to 63"},
	"rejects NS at the zone apex": {
		policy: Policy{Zones: []Zone{{Name: "example.com", Rules: []Rule{{Names: []string{"example.com"}, Types: []string{"NS"}}}}}},
		field:  names0, rule: "redelegate",
	},
	"rejects a rule that only matches inside a nested zone": {
		policy: Policy{Zones: []Zone{
			{Name: "example.com", Rules: []Rule{{Names: []string{"{namespace}.dev.example.com"}, Types: []string{"A"}}}},
			{Name: "dev.example.com", Rules: []Rule{{Names: []string{"x.dev.example.com"}, Types: []string{"A"}}}},
		}},
		field: names0, rule: "more specific",
	},
	"names the exact rule and name index": {
		policy: Policy{Zones: []Zone{
			{Name: "example.com", Rules: []Rule{{Names: []string{"a.example.com"}, Types: []string{"A"}}}},
			{Name: "example.org", Rules: []Rule{
				{Names: []string{"a.example.org"}, Types: []string{"A"}},
				{Names: []string{"b.example.org", "c.example.org", "**.**.example.org"}, Types: []string{"A"}},
			}},
		}},
		field: "spec.zones[1].rules[1].names[2]", rule: `at most one "**"`,
	},
}

func TestHostileTablesHoldAtLeastAHundredInputs(t *testing.T) {
	n := len(hostileNames) + len(hostileChecks) + len(hostilePolicies)
	t.Logf("%d hostile inputs: %d names, %d checks, %d policies", n, len(hostileNames), len(hostileChecks), len(hostilePolicies))
	if n < 100 {
		t.Fatalf("only %d hostile inputs; keep at least 100", n)
	}
}

func TestNormalizeNameHostile(t *testing.T) {
	for name, tc := range hostileNames {
		t.Run(name, func(t *testing.T) {
			got, err := NormalizeName(tc.in)
			if tc.want != "" {
				if err != nil || got != tc.want {
					t.Fatalf("NormalizeName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("NormalizeName(%q) = %q; want an error about %q", tc.in, got, tc.rule)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a *FieldError", err)
			}
			if !strings.Contains(err.Error(), tc.rule) {
				t.Fatalf("error %q does not mention %q", err, tc.rule)
			}
			if len(err.Error()) > 600 {
				t.Fatalf("error is %d bytes long; hostile input must not be echoed in full", len(err.Error()))
			}
		})
	}
}

func TestCheckHostile(t *testing.T) {
	c := mustCompile(t, testPolicy)
	for name, tc := range hostileChecks {
		t.Run(name, func(t *testing.T) {
			m, err := c.Check(tc.ns, tc.rec)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if m.Name != tc.want {
					t.Fatalf("Match.Name = %q, want %q", m.Name, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check granted %+v; want %s", m, tc.reason)
			}
			var d *Denial
			if !errors.As(err, &d) {
				t.Fatalf("error %T is not a *Denial: %v", err, err)
			}
			if d.Reason != tc.reason {
				t.Fatalf("reason %s, want %s: %v", d.Reason, tc.reason, err)
			}
		})
	}
}

func TestCompileHostile(t *testing.T) {
	for name, tc := range hostilePolicies {
		t.Run(name, func(t *testing.T) {
			c, err := Compile(tc.policy)
			if err == nil {
				t.Fatalf("Compile accepted the policy: zones %v", c.Zones())
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T holds no *FieldError", err)
			}
			var found bool
			for _, e := range err.(FieldErrors) {
				if e.Field == tc.field && strings.Contains(e.Rule, tc.rule) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no error at %s mentioning %q in: %v", tc.field, tc.rule, err)
			}
		})
	}
}
