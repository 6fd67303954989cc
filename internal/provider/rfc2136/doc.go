// Package rfc2136 is a provider.Provider for a self-hosted authoritative
// server (BIND 9, Knot DNS, PowerDNS, Windows DNS) that accepts TSIG-signed
// dynamic updates (RFC 2136) and zone transfers (RFC 5936). It is the contract
// the operator relies on, answer by answer:
//
//   - Zones: a zone exists when a TSIG-signed SOA query for its apex is
//     answered authoritatively with the apex's SOA. The zone ID is the zone's
//     name. A NOTAUTH answer (unknown key, bad signature, clock skew) is
//     provider.IsForbidden; a server that does not answer is
//     provider.IsRetryable.
//   - Records: read by a TSIG-signed AXFR, whose answer streams in messages
//     (the pages of a large zone) that are read as they arrive. A zone whose
//     SOA serial has not moved since the last transfer is not transferred
//     again. SOA, DNSSEC and every type outside provider.SupportedTypes are
//     left out, and so are the registry's own records.
//   - ApplyChanges: one UPDATE message per batch (at most Options.BatchSize
//     changes and 60,000 bytes), each with prerequisites (RFC 2136 §2.4) that
//     every RRset it touches, and the registry RRset beside it, is exactly
//     what the provider last read: a change someone made meanwhile fails the
//     batch with provider.IsConflict instead of being overwritten, and the
//     next call reads the zone again. Records are added and removed one RR at
//     a time (never a whole RRset), so a foreign value in a shared RRset
//     stays.
//   - Tokens: none. MintToken and the other token methods answer with an
//     error satisfying provider.IsNotSupported; MintsTokens reports false.
//     The gateway and the front doors are this provider's tenant credentials.
//
// # The ownership registry
//
// RFC 2136 records have no comments, so ownership is kept in the zone itself,
// as external-dns's TXT registry does: for every record this provider writes,
// one TXT record at the registry name of the record's name,
//
//	_scopedns.<name>          (for <name> = *.<rest>: _scopedns._wildcard.<rest>)
//
// holding one character-string:
//
//	scopedns/1 id=<32 hex> type=<TYPE> data=<16 hex> ttl=<seconds|auto> comment=<comment>
//
// id is the record's provider ID (random, kept across updates); type and data
// (the first 16 hex digits of the SHA-256 of provider.ContentKey of the RR's
// content) say which RR of the name the entry is about; ttl=auto marks a
// record written with the automatic TTL (0 or 1, written as
// Options.DefaultTTL and read back as 1); comment is provider.Record.Comment,
// the owner marker (provider.OwnerComment), and runs to the end of the string.
// A record without an entry is foreign: its ID is derived from its content,
// its comment is empty, and the operator never changes it. An entry without a
// record (someone deleted the record by hand) is ignored, and removed when
// the provider next writes that record. Names whose first label is _scopedns
// are the registry's: writing a record there is refused as invalid.
package rfc2136
