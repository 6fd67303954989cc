// Package dyndns proves that real dyndns2 clients this project did not
// write update addresses through scopedns's dyndns2 front door
// (internal/dyndns), the one zone writer (internal/zonewriter) and the
// Cloudflare provider, against the Cloudflare simulator
// (internal/cloudflare/sim), and that their limits hold:
//
//   - Debian's ddclient 3.10 (protocol=dyndns2, server=, ssl=no, a fixed
//     address with use=ip), run once in the foreground with its own cache;
//   - Debian's inadyn 2.10 (a custom provider with ddns-server and
//     ddns-path, the address from checkip-command), run once (-1) in the
//     foreground with its own cache directory.
//
// Each sets an A record, and each is refused, with nothing written, with a
// wrong password and with a hostname outside its login's grant. hack/setup.sh
// installs both; the tests skip, saying so, where a binary is missing.
package dyndns
