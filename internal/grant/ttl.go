package grant

import "fmt"

// AutoTTL is the TTL a record asks for to get the provider's automatic TTL,
// and AutoTTLSeconds what resolvers are then told: Cloudflare answers a TTL
// of 1 with 300 s. A rule's maxTTL bounds what resolvers cache, so it is
// compared with the effective TTL, never with the 1 that was written.
const (
	AutoTTL        int32 = 1
	AutoTTLSeconds int32 = 300
)

// EffectiveTTL is the TTL resolvers see for a requested ttl: AutoTTLSeconds
// for AutoTTL, the ttl itself otherwise (0 stays "unset"). Claims and every
// front door compare this with maxTTL, so a TTL means the same at each.
func EffectiveTTL(ttl int32) int32 {
	if ttl == AutoTTL {
		return AutoTTLSeconds
	}
	return ttl
}

func describeTTL(ttl int32) string {
	if ttl == AutoTTL {
		return fmt.Sprintf("%d (automatic: %d s at the provider)", ttl, AutoTTLSeconds)
	}
	return fmt.Sprint(ttl)
}
