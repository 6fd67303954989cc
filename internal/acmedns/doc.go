// Package acmedns is the acme-dns front door: the HTTP API of
// github.com/joohoi/acme-dns that cert-manager's acmeDNS solver, lego,
// certbot's and acme.sh's plugins, Caddy and Traefik speak, in front of the
// zone writer. Clients cannot tell it from acme-dns with registration
// disabled; answer by answer:
//
//   - POST /update with headers X-Api-User and X-Api-Key and the JSON body
//     {"subdomain": …, "txt": …} (keys matched without regard to case, as
//     encoding/json does: lego sends "SubDomain" and "Txt"; unknown keys and
//     anything after the first JSON value are ignored) sets the TXT record of
//     the account's name, keeping the two newest values as acme-dns does (a
//     certificate for example.com and *.example.com has two challenges at the
//     same name at once). It answers 200 {"txt": "<value>"}.
//   - 401 {"error": "forbidden"}: an unknown user, a wrong key, a body that
//     is not JSON, or a subdomain that is not the account's. acme-dns answers
//     a malformed body so because it compares the subdomain it could not
//     read. It is also the answer when the zone writer refuses the write
//     (the account's grant no longer covers its name).
//   - 400 {"error": "bad_subdomain"}: an authenticated request whose
//     subdomain is not a DNS label. (acme-dns reaches this check only after
//     the subdomain matched, so it answers such a request forbidden; no
//     client depends on the difference, and naming the mistake helps.)
//   - 400 {"error": "bad_txt"}: txt is not exactly 43 characters of
//     base64url, the length of an ACME DNS-01 digest. A 44-character TXT is
//     bad_txt.
//   - 429 {"error": "too_many_requests"} with Retry-After: the namespace
//     used its share of the provider budget; nothing was written. acme-dns
//     has no such answer; every client treats it as a failed attempt and
//     retries later.
//   - 500 {"error": "db_error"}: the provider could not be written, as
//     acme-dns answers a database error.
//   - GET /health: 200 with an empty body.
//   - POST /register: 404, as acme-dns with disable_registration: accounts
//     come from claims, the operator writes them into the namespace's
//     credentials Secret. Every other path is 404, another method on /update
//     or /health 405.
//
// Passwords are compared in constant time (SHA-256 of both sides, so the
// length leaks nothing either) with every accepted password of the account,
// and also for an unknown user, so timing does not tell which usernames
// exist. Bodies are read up to 4 KiB (a real one is about 100 bytes).
//
// Stale values: clients never remove what they wrote (cert-manager's and
// lego's cleanup do nothing), so the handler deletes each value it wrote
// ValueTTL after writing it (Sweep, driven by Run). It remembers at most two
// values per name, the ones the keep-two rule leaves, so memory is bounded
// by the accounts. A restart forgets them: a value written before it stays
// until the next update of its name pushes it out (keep two) or the record
// GC removes the record when its claim goes away.
//
// Audit: one line per request, with the client's address, the account's
// namespace and name and the answer; never a key, never a password, and the
// X-Api-User header only when it names an account (a client that swapped
// its headers would otherwise log its password). Lines of unauthenticated
// requests are sampled (internal/auditsample).
package acmedns
