package provider

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// MaxCommentLength is the longest record comment Cloudflare's free plan keeps.
const MaxCommentLength = 100

// MaxTokenNameLength is the longest token name TokenName produces.
const MaxTokenNameLength = 120

const (
	ownerScheme     = "scopedns:"
	tokenScheme     = "scopedns/"
	maxClusterPart  = 40
	clusterHashLen  = 8
	ownerHashLen    = 16
	hashedSeparator = '~'
)

// Owner is the parsed owner marker of a record comment.
type Owner struct {
	// Comment is the marker as written.
	Comment string
	// Cluster is the cluster part: the cluster name, or a shortened form of it
	// with a hash when the name was long or not DNS-label-like.
	Cluster string
	// Namespace and Claim identify the DNSRecordClaim that owns the record.
	// When Hashed is set they may be shortened (and Claim may be empty):
	// compare markers with Is, not field by field.
	Namespace string
	Claim     string
	// Hashed is set when the marker was shortened to fit MaxCommentLength and
	// ends in a hash of the full owner.
	Hashed bool
}

// Is reports whether the marker is exactly the one OwnerComment gives for this
// cluster, namespace and claim.
func (o Owner) Is(cluster, namespace, claim string) bool {
	return o.Comment == OwnerComment(cluster, namespace, claim)
}

// IsCluster reports whether the marker was written by the given cluster.
func (o Owner) IsCluster(cluster string) bool { return o.Cluster == clusterPart(cluster) }

// OwnerPrefix is the start of every owner marker the given cluster writes, for
// listing all of the cluster's records (RecordFilter.OwnerPrefix).
func OwnerPrefix(cluster string) string {
	return ownerScheme + clusterPart(cluster) + ":"
}

// OwnerComment is the owner marker the operator writes into the comment of
// every record it creates for a claim: "scopedns:<cluster>:<namespace>/<claim>".
// It is deterministic (so it survives restarts), unique per cluster and claim,
// and at most MaxCommentLength characters: when the plain form would be longer,
// or a part is not a Kubernetes name, the namespace and claim are shortened and
// a hash of the full owner is appended after '~'. ParseOwner reads it back.
func OwnerComment(cluster, namespace, claim string) string {
	prefix := OwnerPrefix(cluster)
	if isKubeName(namespace) && isKubeName(claim) && len(prefix)+len(namespace)+1+len(claim) <= MaxCommentLength {
		return prefix + namespace + "/" + claim
	}
	h := shortHash(ownerHashLen, cluster, namespace, claim)
	visible := sanitize(namespace) + "/" + sanitize(claim)
	if budget := MaxCommentLength - len(prefix) - 1 - ownerHashLen; len(visible) > budget {
		visible = visible[:budget]
	}
	return prefix + visible + string(hashedSeparator) + h
}

// ParseOwner reads an owner marker written by OwnerComment. It reports false for
// a comment that is not one (written by someone else, or by hand).
func ParseOwner(comment string) (Owner, bool) {
	rest, ok := strings.CutPrefix(comment, ownerScheme)
	if !ok {
		return Owner{}, false
	}
	cluster, rest, ok := strings.Cut(rest, ":")
	if !ok || cluster == "" || !isLabelChars(cluster) {
		return Owner{}, false
	}
	o := Owner{Comment: comment, Cluster: cluster}
	if i := strings.LastIndexByte(rest, hashedSeparator); i >= 0 {
		h := rest[i+1:]
		if len(h) != ownerHashLen || !isHex(h) {
			return Owner{}, false
		}
		o.Hashed = true
		rest = rest[:i]
	}
	ns, claim, ok := strings.Cut(rest, "/")
	switch {
	case o.Hashed:
		// Shortened: whatever survived, possibly without the claim.
		if !isLabelChars(ns) || !isLabelChars(claim) {
			return Owner{}, false
		}
	case !ok || !isKubeName(ns) || !isKubeName(claim):
		return Owner{}, false
	}
	o.Namespace, o.Claim = ns, claim
	return o, true
}

// TokenName is the deterministic name of a token minted for a namespace under a
// scope: "scopedns/<cluster>/<scope>/<namespace>/<serial>", where serial tells
// tokens of one namespace apart across rotations (a generation or a timestamp).
// Shortened with a hash, like OwnerComment, when longer than MaxTokenNameLength
// or when a part is not a Kubernetes name.
func TokenName(cluster, scope, namespace, serial string) string {
	prefix := TokenNamePrefix(cluster)
	plain := scope + "/" + namespace + "/" + serial
	if isKubeName(scope) && isKubeName(namespace) && isKubeName(serial) && len(prefix)+len(plain) <= MaxTokenNameLength {
		return prefix + plain
	}
	h := shortHash(ownerHashLen, cluster, scope, namespace, serial)
	visible := sanitize(scope) + "/" + sanitize(namespace) + "/" + sanitize(serial)
	if budget := MaxTokenNameLength - len(prefix) - 1 - ownerHashLen; len(visible) > budget {
		visible = visible[:budget]
	}
	return prefix + visible + string(hashedSeparator) + h
}

// TokenNamePrefix is the start of the name of every token the given cluster
// mints, for listing them (Provider.Tokens) and sweeping leaks.
func TokenNamePrefix(cluster string) string {
	return tokenScheme + clusterPart(cluster) + "/"
}

// TokenNameParts are the parts of a name TokenName produced.
type TokenNameParts struct {
	Cluster, Scope, Namespace, Serial string
	// Hashed is set when the name was shortened; the parts may then be
	// shortened or empty. Compare names, not parts.
	Hashed bool
}

// ParseTokenName reads a name TokenName produced.
func ParseTokenName(name string) (TokenNameParts, bool) {
	rest, ok := strings.CutPrefix(name, tokenScheme)
	if !ok {
		return TokenNameParts{}, false
	}
	cluster, rest, ok := strings.Cut(rest, "/")
	if !ok || cluster == "" || !isLabelChars(cluster) {
		return TokenNameParts{}, false
	}
	p := TokenNameParts{Cluster: cluster}
	if i := strings.LastIndexByte(rest, hashedSeparator); i >= 0 {
		h := rest[i+1:]
		if len(h) != ownerHashLen || !isHex(h) {
			return TokenNameParts{}, false
		}
		p.Hashed = true
		rest = rest[:i]
	}
	parts := strings.SplitN(rest, "/", 3)
	for len(parts) < 3 {
		if !p.Hashed {
			return TokenNameParts{}, false
		}
		parts = append(parts, "")
	}
	for _, s := range parts {
		if (!p.Hashed && !isKubeName(s)) || !isLabelChars(s) {
			return TokenNameParts{}, false
		}
	}
	p.Scope, p.Namespace, p.Serial = parts[0], parts[1], parts[2]
	return p, true
}

// clusterPart is the cluster name as it appears in markers and token names:
// itself when it is a short DNS-label-like name, otherwise a shortened,
// sanitised form with a hash of the full name.
func clusterPart(cluster string) string {
	if len(cluster) <= maxClusterPart && isKubeName(cluster) {
		return cluster
	}
	s := sanitize(cluster)
	if max := maxClusterPart - 1 - clusterHashLen; len(s) > max {
		s = s[:max]
	}
	return s + "-" + shortHash(clusterHashLen, cluster)
}

// isKubeName reports whether s is non-empty and made of lower-case letters,
// digits, '-' and '.', starting and ending with a letter or digit: the shape of
// Kubernetes object names, which never contain the separators ':', '/', '~'.
func isKubeName(s string) bool {
	if s == "" || !isLabelChars(s) {
		return false
	}
	return isAlnum(s[0]) && isAlnum(s[len(s)-1])
}

func isLabelChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool { return ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') }

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9') && !('a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// sanitize lower-cases s and replaces every byte that is not a letter, digit,
// '-' or '.' with '-'.
func sanitize(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if !isAlnum(c) && c != '-' && c != '.' {
			b[i] = '-'
		}
	}
	return string(b)
}

// shortHash is the first n hex digits of the SHA-256 of the parts, each
// length-prefixed so that ("a/b","c") and ("a","b/c") differ.
func shortHash(n int, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		var l [8]byte
		for i, v := 0, uint64(len(p)); i < 8; i, v = i+1, v>>8 {
			l[i] = byte(v)
		}
		h.Write(l[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))[:n]
}

// TokenBelongsTo reports whether name is a token name TokenName gives for this
// cluster, scope and namespace (with any serial). The controllers check it on
// the name the provider reports before revoking or re-scoping a token, so a
// token ID that came from anywhere else (another namespace's token, another
// cluster's, one made by hand) is never acted on.
func TokenBelongsTo(name, cluster, scope, namespace string) bool {
	p, ok := ParseTokenName(name)
	if !ok || p.Cluster != clusterPart(cluster) {
		return false
	}
	if !p.Hashed {
		return p.Scope == scope && p.Namespace == namespace
	}
	// A shortened name shows the start of "scope/namespace/serial" before
	// its hash, and the hash covers a serial that may be cut off, so only
	// that start can be checked: it must be this scope and namespace as far
	// as it goes. The controllers also require the exact name recorded when
	// they minted the token, which settles what a cut-off name cannot.
	want := sanitize(scope) + "/" + sanitize(namespace) + "/"
	visible := name[len(TokenNamePrefix(cluster)):strings.LastIndexByte(name, hashedSeparator)]
	return strings.HasPrefix(visible, want) || strings.HasPrefix(want, visible) && len(visible) > 0
}
