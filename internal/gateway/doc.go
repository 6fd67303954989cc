// Package gateway is scopedns's RFC 2136 DNS UPDATE server. Every namespace
// that claimed names under a DNSScope gets a TSIG key (see [Key]) that can
// write exactly the (name, type) pairs it reserved, nothing else; the gateway
// writes through the scope's provider with the master credential, so
// thousands of tenants need no provider tokens at all.
//
// The controllers feed it keys ([Keys], typically a [KeyStore]) and the zone
// writer ([ZoneWriter]; or providers, [Writers], for a writer of its own);
// the server ([Server]) listens on UDP and TCP, verifies TSIG with
// a dynamic [dns.TsigProvider], and answers with the response codes below.
//
// # Response codes
//
// In the order the checks run:
//
//   - A message that is a response (QR set) is dropped. An opcode other than
//     QUERY or UPDATE gets NOTIMP; an UPDATE whose zone count is not 1, or a
//     QUERY that is not exactly one question, gets FORMERR (both from the
//     MsgAcceptFunc, before the message is parsed further).
//   - TSIG (RFC 8945 §5.2): a TSIG RR anywhere but last in the additional
//     section gets FORMERR. An unknown key, or an algorithm other than the
//     key's (HMAC-SHA256 or HMAC-SHA512; MD5 and SHA-1 are never accepted),
//     gets NOTAUTH with TSIG error BADKEY; a MAC that none of the key's
//     secrets produces gets NOTAUTH/BADSIG (the previous secret counts only
//     before [Key.PreviousValidUntil] by [Options.Now]); a valid MAC outside
//     the time window (the request's fudge, at most 300 s) gets
//     NOTAUTH/BADTIME, signed, with the server's time in Other Data. BADKEY
//     and BADSIG answers carry an unsigned TSIG RR (MAC size 0), as RFC 8945
//     §5.3.2 says.
//   - Replays (RFC 8945 §5.2.3 lets a server keep the MACs it saw): a
//     signed request whose MAC this server verified before, inside its time
//     window, gets NOTAUTH/BADTIME, signed, and changes nothing; over UDP,
//     a replay of a request still being answered (a client's
//     retransmission) gets no answer, so the client takes the original's.
//     Each key holds at most [Options.ReplayMACsPerKey] MACs until their
//     windows close; a key at that bound gets REFUSED, signed, and other
//     keys are not affected. The check covers UPDATE, SOA queries and AXFR,
//     and runs before the rate limit, so replays do not spend a key's rate.
//   - An unsigned UPDATE or QUERY gets REFUSED: RFC 8945 reserves NOTAUTH for
//     TSIG failures, and RFC 2136 §3.3 says a requestor without permission
//     gets REFUSED (BIND answers the same).
//   - A key over its rate (token bucket per key, [Options.RatePerKey]) gets
//     REFUSED, signed.
//   - QUERY: a signed SOA question for a name inside one of the key's zones
//     gets a synthesised SOA (answer at the apex, authority below it), which
//     is what nsupdate asks before an update when no zone is given.
//   - AXFR (RFC 5936), which external-dns's rfc2136 provider lists zones
//     with: a class other than IN, or a zone that is not one of the key's or
//     where it holds no grant, gets NOTAUTH (as BIND for a zone it does not
//     serve); over UDP, FORMERR (as BIND); a zone writer's refusal is
//     answered as for UPDATE below (REFUSED for the namespace's provider
//     budget). Otherwise the synthesised SOA, the records at the key's
//     granted (name, type) pairs from the zone writer's snapshot
//     ([zonewriter.Writer.Read]; nothing else, not even other types at its
//     names), and the SOA again, in messages of at most 16 KiB of records,
//     each signed and chained to the one before (RFC 8945 §5.3.1).
//   - Every other question gets REFUSED: no recursion, nothing outside the
//     key's zones, never more bytes back than a short SOA to a request
//     nobody authenticated.
//   - UPDATE zone section (RFC 2136 §3.1.1): ZTYPE other than SOA gets
//     FORMERR; a zone that is not one of the key's zones (or a class other
//     than IN) gets NOTAUTH.
//   - Prerequisite and update sections are prescanned before anything is
//     read (RFC 2136 §3.2.1, §3.4.1): a name outside the zone (or inside a
//     more specific zone of the key) gets NOTZONE; a malformed RR (non-zero
//     TTL or RDATA where the RFC wants none, meta types, a class other than
//     IN/ANY/NONE) gets FORMERR; a type the gateway cannot write (A, AAAA,
//     CNAME, TXT, MX, SRV, CAA, NS, PTR are supported) or more than
//     [Options.MaxUpdateRecords] RRs get REFUSED.
//   - The rest is the zone writer's ([Options.ZoneWriter], internal/zonewriter),
//     the one write path of every front door. Permissions first (§3.3),
//     before the prerequisites are evaluated so that a key learns nothing
//     about names it was not granted: a prerequisite on a name where the
//     key has no grant, an update of a (name, type) that is not granted or
//     a TTL above the grant's maximum get REFUSED and nothing is written.
//   - Prerequisites (§3.2) are evaluated against the writer's snapshot of
//     the zone: NXDOMAIN (name not in use), YXDOMAIN (name in use), NXRRSET
//     (RRset missing, or value-dependent RRset differs), YXRRSET (RRset
//     exists).
//   - Updates (§3.4.2) are applied in order to a copy of the records at the
//     names involved: class IN adds (an identical RR has its TTL replaced; a
//     CNAME beside other data, or other data beside a CNAME, is ignored as
//     the RFC says; a CNAME replaces a CNAME), class ANY deletes an RRset
//     (type ANY: every RRset at the name, allowed only when every type there
//     is granted), class NONE deletes one RR; NS deletions at the zone apex
//     are ignored. Touching a record that this key's namespace did not write
//     through a front door (deleting it, changing its TTL, or adding an RR
//     identical to it) gets REFUSED and nothing is written: only records
//     whose comment is [OwnerComment] for the key's cluster and namespace
//     are ever changed.
//   - The resulting creates, updates and deletes join the zone's next
//     provider batch, shared with other tenants' requests; the provider
//     refusing this request's records gets REFUSED, any other provider error
//     (or a failure to get the scope's provider) SERVFAIL. Nothing to change
//     is NOERROR without a provider call.
//   - Provider budget: each namespace is charged its share of the batches it
//     was in, and one that used its fair part of the front doors' share of
//     the credential's rate limit gets REFUSED, signed, with nothing
//     written; its audit line's reason says "provider budget".
//
// Requests at the same names wait for each other within a replica, so
// prerequisites and the write see the same records; replicas do not
// coordinate with each other, so two replicas updating the same RRset at once
// can still interleave (each replica's snapshot catches up within its
// refresh).
//
// Every UPDATE produces one audit line "rfc2136 update", and every AXFR one
// "rfc2136 transfer" (with the number of records sent), on [Options.Logger] (key name,
// namespace, scope, zone, names, types, result, reason, remote address; at
// debug level when the request is unsigned or
// names an unknown key, warning level for a bad signature of a known key,
// error level for SERVFAIL, info level otherwise), except that the lines of
// UPDATEs nobody authenticated are sampled before anything else is spent on
// them: per [Options.UnauthenticatedLogInterval] the first
// [Options.UnauthenticatedLogPerSource] of each source address and
// [Options.UnauthenticatedLogMax] in all, then one summary line
// "rfc2136 unauthenticated updates not logged" with the count held back;
// lines of a key refused for its rate or its namespace's provider budget are
// sampled the same way by key name ("rfc2136 over-limit updates not
// logged"), and so are those of replays, at warning level ("rfc2136
// replayed requests not logged"). Every request gets one call of
// [Options.Observer] with the response code's name ("NOERROR", "REFUSED",
// "NOTAUTH", ...), and every replay one of [Options.ReplayObserver] with the
// key's scope. Secrets never reach a log line, an error or a response.
package gateway
