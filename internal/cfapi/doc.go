// Package cfapi is a Cloudflare-compatible API (the v4 endpoints DNS tools
// use, under /client/v4/) with per-namespace bearer tokens scoped to
// records: a token sees only the zones its namespace has grants in and, in
// them, only the (name, type) pairs the namespace reserved; it writes those
// and nothing else, through the zone writer with the operator's master
// credential. So lego, external-dns, Terraform, octodns and ddclient, which
// all speak Cloudflare's API and take its base URL, get record-level scope,
// and a tenant needs no provider token at all (past Cloudflare's 50 / 500
// token quota).
//
// The API is spoken in Cloudflare's own shapes (internal/cloudflare/wire,
// shared with the simulator): its envelope, status codes, error codes,
// record validation, filters and pagination. What the scope forbids is 403
// with a message naming the rule, never 404, so a tenant cannot tell a
// foreign record from a missing one; anything that would widen a key (zone
// creation, tokens, accounts, users, every other path) is 403 too.
//
// Differences from Cloudflare a client may see:
//   - A change of a record's name, type or content deletes it and creates a
//     new one: the record gets a new ID (Cloudflare keeps it). A change of
//     TTL only keeps it.
//   - Comments and tags are the operator's (the owner marker): they are
//     not shown, and a comment or tags sent are ignored.
//   - proxied must be false: the front door writes DNS-only records.
package cfapi
