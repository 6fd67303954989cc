// Package dyndns is scopedns's dyndns2 front door: the update protocol of
// the old DynDNS service ("Perform Update"), which ddclient, inadyn and most
// home routers speak. Every namespace that claimed A or AAAA names under a
// DNSScope gets a login (see [User]) that can set the addresses of exactly
// those names, nothing else; the update is written by the one zone writer
// (internal/zonewriter), so it is checked, budgeted and audited like every
// other front door's.
//
// # Request
//
//	GET /nic/update?hostname=a.example.com,b.example.com&myip=203.0.113.7[,2001:db8::7]
//	Authorization: Basic <username:password>
//
// The [Handler] does not look at the path: mount it at /nic/update (what
// ddclient's dyndns2 protocol and most routers send), and at "GET /update"
// if wanted: acme-dns's "POST /update" can share the listener, since the
// dyndns2 clients send GET. POST with the same parameters in the query or a
// form body is accepted; other methods get 405. The
// parameters system, wildcard, mx, backmx and offline are ignored: a login
// sets addresses, nothing else.
//
// myip holds at most one IPv4 and one IPv6 address, comma-separated; IPv4
// sets the name's A record, IPv6 its AAAA record (each to exactly that one
// address; the other family is left alone). A malformed myip entry is
// ignored, as the spec says; when myip is absent or holds nothing usable,
// the address the request came from is used: the TCP peer, or, only when
// the peer is one of [Options.TrustedProxies], the last address in
// X-Forwarded-For that is not a trusted proxy. A header anyone can send is
// never believed otherwise.
//
// # Answers
//
// The body is text/plain, one line per hostname in request order for the
// answers about a hostname, one line in all for the answers about the login
// or the request. The HTTP status is 200 for every answer but one, because
// clients read the body (inadyn's custom provider fails anything but 200;
// ddclient wants 2xx): a request without credentials gets 401 with a Basic
// challenge, for clients that send credentials only when challenged. In the
// order the checks run:
//
//   - badauth (once): no credentials (401), an unknown username, or a
//     password that is none of the login's (the current one and, during a
//     rotation overlap, the previous one; compared in constant time with
//     each, and an unknown username costs the same comparisons).
//   - notfqdn (once): no hostname given.
//   - numhost (once): more than 20 hostnames, or two addresses of one family
//     in myip (a round robin, which dyndns2 does not set).
//   - abuse (every line): the login used its update budget (a token bucket
//     per login, [Options.Rate] and [Options.Burst], one token per
//     hostname). A refused login spends none, so nobody who lacks the
//     password can use up someone else's budget.
//   - notfqdn / nohost (every line, whole request refused): a hostname that
//     is not a valid domain name with at least two labels gets notfqdn; one
//     that is not among the login's hosts, or has no grant for the family
//     of any address given, gets nohost. One such hostname refuses the whole
//     request and nothing is written: every line says notfqdn or nohost, the
//     lines of the acceptable hostnames nohost, since the request named a
//     host this account does not hold.
//   - Then each hostname is written (concurrently; the zone writer coalesces
//     them into one provider batch per zone) and answered on its own line:
//     good <ip> when a record changed; nochg <ip> when the records already
//     held the address (answered from the writer's snapshot, no provider
//     call; a repeat within [Options.RepeatWindow] of an update this handler
//     made or confirmed costs not even a writer call); nohost when the
//     writer refused (a record at the name that another owner wrote, a TTL
//     above the grant); abuse when the writer found the namespace over its
//     share of the provider's request budget; dnserr when the provider
//     could not be read or written; 911 for anything else (the client is to
//     retry later). <ip> is the address set, or both, comma-separated.
//
// # Audit
//
// Every request gets one log line ("dyndns2 update") with the remote
// address, username, namespace, hostnames, addresses, answers and the
// reason for a refusal; never a password. Lines about requests refused
// before any write (badauth, and abuse for a login over its rate) are rate
// limited: a flood of guesses or a client in a loop is counted in the next
// line logged, not logged line by line. No state is kept for a username that
// did not log in, so a flood of unknown usernames costs no memory.
package dyndns
