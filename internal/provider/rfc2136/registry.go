package rfc2136

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/scopedns/scopedns/internal/provider"
)

const (
	// registryLabel is the first label of every registry name.
	registryLabel = "_scopedns"
	// wildcardLabel stands for a leading "*" label under the registry label,
	// where a literal "*" would be an odd name some servers warn about.
	wildcardLabel = "_wildcard"
	entryScheme   = "scopedns/1"
	idLen         = 32
	dataHashLen   = 16
)

// registryName is the name of the registry RRset for the records at name,
// "" when the name is too long to carry one.
func registryName(name string) string {
	name = provider.NormalizeName(name)
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		name = wildcardLabel + "." + rest
	}
	r := registryLabel + "." + name
	if len(r) > 253 {
		return ""
	}
	return r
}

// isRegistryName reports whether name is in the registry's part of the zone.
func isRegistryName(name string) bool {
	first, _, _ := strings.Cut(provider.NormalizeName(name), ".")
	return first == registryLabel
}

// entry is one registry record: which RR of a name it is about, and what the
// provider keeps for it that DNS cannot.
type entry struct {
	ID      string
	Type    string
	Data    string // dataHash of the RR's content
	AutoTTL bool
	TTL     int
	Comment string
}

// dataHash identifies an RR's content within its name and type.
func dataHash(typ, content string) string {
	sum := sha256.Sum256([]byte(provider.ContentKey(typ, content)))
	return hex.EncodeToString(sum[:])[:dataHashLen]
}

// text is the entry's one character-string.
func (e entry) text() string {
	ttl := strconv.Itoa(e.TTL)
	if e.AutoTTL {
		ttl = "auto"
	}
	return fmt.Sprintf("%s id=%s type=%s data=%s ttl=%s comment=%s", entryScheme, e.ID, e.Type, e.Data, ttl, e.Comment)
}

// parseEntry reads an entry's character-string (raw, unescaped); false for
// any other TXT text.
func parseEntry(s string) (entry, bool) {
	rest, ok := strings.CutPrefix(s, entryScheme+" ")
	if !ok {
		return entry{}, false
	}
	var e entry
	for _, field := range []string{"id=", "type=", "data=", "ttl="} {
		var v string
		v, rest, ok = strings.Cut(rest, " ")
		if !ok {
			return entry{}, false
		}
		v, ok = strings.CutPrefix(v, field)
		if !ok {
			return entry{}, false
		}
		switch field {
		case "id=":
			e.ID = v
		case "type=":
			e.Type = v
		case "data=":
			e.Data = v
		case "ttl=":
			if v == "auto" {
				e.AutoTTL = true
				break
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return entry{}, false
			}
			e.TTL = n
		}
	}
	e.Comment, ok = strings.CutPrefix(rest, "comment=")
	if !ok || len(e.ID) != idLen || !isHex(e.ID) || len(e.Data) != dataHashLen || !isHex(e.Data) || !provider.IsSupportedType(e.Type) {
		return entry{}, false
	}
	return e, true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9') && !('a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// foreignID is the ID of a record without a registry entry: derived from
// what the record is, so that it is the same on every read. It starts with
// "x" and so never equals a registered ID, which is hex.
func foreignID(name, typ, content string) string {
	sum := sha256.Sum256([]byte(provider.NormalizeName(name) + "\x00" + strings.ToUpper(typ) + "\x00" + provider.ContentKey(typ, content)))
	return "x" + hex.EncodeToString(sum[:])[:idLen-1]
}

// newID is a fresh registered ID.
func newID() string {
	var b [idLen / 2]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
