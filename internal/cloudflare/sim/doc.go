// Package sim is an in-memory simulator of the parts of Cloudflare's v4 API
// that scopedns uses, with Cloudflare's token policies enforced on every
// request, and an authoritative DNS server for the simulated zones.
//
// A Server is an http.Handler (the API under /client/v4/) and a
// dns.Handler (ServeDNS). Tests run it with httptest and a loopback
// miekg/dns server; cmd/cfsim runs it as a process.
//
// # Endpoints
//
//	GET    /zones                                     zones.list  (name incl. operators, account.id, account.name, status, match, direction)
//	GET    /zones/{zone_id}                           zones.get
//	GET    /zones/{zone_id}/dns_records               dns_records.list (name, name.exact|contains|startswith|endswith, type,
//	                                                  content[.op], comment[.op], comment.present|absent, tag.present|absent|exact,
//	                                                  proxied, match=all|any, order, direction, page, per_page)
//	POST   /zones/{zone_id}/dns_records               dns_records.create
//	POST   /zones/{zone_id}/dns_records/batch         dns_records.batch (deletes, patches, puts, posts; one transaction)
//	GET    /zones/{zone_id}/dns_records/{id}          dns_records.get
//	PUT    /zones/{zone_id}/dns_records/{id}          dns_records.update (whole record)
//	PATCH  /zones/{zone_id}/dns_records/{id}          dns_records.edit (fields given)
//	DELETE /zones/{zone_id}/dns_records/{id}          dns_records.delete
//	GET    /accounts                                  accounts.list
//	GET    /accounts/{account_id}                     accounts.get
//	GET    /accounts/{account_id}/tokens              tokens.list (include_expired, direction, page, per_page)
//	POST   /accounts/{account_id}/tokens              tokens.create (the only answer carrying "value")
//	GET    /accounts/{account_id}/tokens/verify       tokens.verify
//	GET    /accounts/{account_id}/tokens/permission_groups  tokens.permission_groups (name, scope)
//	GET    /accounts/{account_id}/tokens/{id}         tokens.get
//	PUT    /accounts/{account_id}/tokens/{id}         tokens.update (fields given; the value stays)
//	DELETE /accounts/{account_id}/tokens/{id}         tokens.delete
//	PUT    /accounts/{account_id}/tokens/{id}/value   tokens.roll (new value, old one dead at once)
//	GET    /user/tokens/verify                        user_tokens.verify
//
// The operation names are the keys of Server.Requests and Faults.
//
// # Authorization
//
// Every request needs "Authorization: Bearer <token>". A token is usable
// when it is not disabled, now is not before not_before and before
// expires_on, and the client IP (RemoteAddr) passes condition.request_ip
// (in/not_in CIDRs; "request.ip" and "request_ip" are both accepted and
// both written back). Policies grant permission groups on resources:
//
//	"com.cloudflare.api.account.<id>": "*"          the account and all its zones
//	"com.cloudflare.api.account.<id>": {"com.cloudflare.api.account.zone.<zone_id>": "*", …}
//	"com.cloudflare.api.account.zone.<zone_id>": "*"
//	"com.cloudflare.api.account.zone.*": "*"        every zone
//	"com.cloudflare.api.account.*": "*"             everything
//
// A matching deny policy beats any allow. Write groups imply their read
// group on allow (DNS Write reads records, Account API Tokens Write lists
// tokens), but a deny of a write group leaves reading alone. Zones are
// listed only with Zone Read; DNS Read/Write alone see an empty zone list,
// as on Cloudflare. Permission-group IDs are Cloudflare's (PermZoneRead …).
//
// # Errors
//
// Answers use Cloudflare's envelope {success, errors, messages, result,
// result_info}. Codes (see the Code constants for which are observed on
// Cloudflare and which are the simulator's choice):
//
//	400 9106  no credentials             400 6003/6111 malformed Authorization
//	401 10000 unknown, disabled, expired or not-yet-valid token
//	401 1000  same, on the verify endpoints ("Invalid API Token")
//	403 9109  zone, account or token endpoint outside the token's policies; IP condition
//	403 10000 DNS record endpoint outside the token's policies
//	404 7003+7000 unknown zone ID or path    405 7001 wrong method
//	400 1004  DNS Validation Error, reason in error_chain (9003 field, 9004 not proxiable, 81059 batch too large)
//	400 81057 identical record   400 81053 CNAME beside other records   400 81054 record beside a CNAME
//	404 81044 record does not exist
//	400 1001  invalid token body  404 1003 token not found  400 1005 token quota exceeded
//	429 971   rate limited, with Retry-After (seconds) and Ratelimit headers
//	500/502/503 10001 injected by Faults
//
// # Limits
//
// Defaults follow Cloudflare's published numbers: 500 account tokens,
// 1,200 requests per token per 5 minutes (sliding window), 200 changes per
// batch, 100-character comments, TTL 1 (automatic) or 60..86400. Pages:
// records 100 by default (5..5,000,000), zones 20 (5..50), tokens 20
// (5..50); out-of-range per_page values are clamped.
package sim
