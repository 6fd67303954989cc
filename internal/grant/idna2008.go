package grant

import (
	"fmt"
	"unicode"
)

// UTS 46 lookup mapping is deliberately lenient: it keeps symbols such as
// emoji ("NV8" runes) that IDNA2008 disallows, and it does not apply the
// CONTEXTO rules. checkIDNA2008 restores the RFC 5892 derivation for the
// U-label so that only letters, marks and digits get through.
func checkIDNA2008(u string) error {
	runes := []rune(u)
	for i, r := range runes {
		if r == '-' || pvalidException(r) {
			continue
		}
		if disallowedException(r) || !unicode.In(r, unicode.Ll, unicode.Lo, unicode.Lm, unicode.Mn, unicode.Mc, unicode.Nd) {
			if ok, checked := contextO(runes, i); checked {
				if ok {
					continue
				}
				return fmt.Errorf("%U is allowed by IDNA2008 only in a context this label does not give it (RFC 5892 Appendix A)", r)
			}
			return fmt.Errorf("%U is not allowed by IDNA2008 (only letters, marks and digits are)", r)
		}
	}
	return checkDigitMix(runes)
}

// pvalidException and disallowedException are RFC 5892 §2.6 and §2.9.
func pvalidException(r rune) bool {
	switch r {
	case 0x00DF, 0x03C2, 0x06FD, 0x06FE, 0x0F0B, 0x3007:
		return true
	}
	return false
}

func disallowedException(r rune) bool {
	switch {
	case r == 0x0640, r == 0x07FA, r == 0x302E, r == 0x302F, r == 0x303B, 0x3031 <= r && r <= 0x3035:
		return true
	// Old Hangul Jamo (RFC 5892 §2.9).
	case 0x1100 <= r && r <= 0x11FF, 0xA960 <= r && r <= 0xA97F, 0xD7B0 <= r && r <= 0xD7FF:
		return true
	}
	return false
}

// contextO applies the CONTEXTO rules of RFC 5892 Appendix A to runes[i];
// checked is false when runes[i] has no such rule.
func contextO(runes []rune, i int) (ok, checked bool) {
	at := func(j int) rune {
		if j < 0 || j >= len(runes) {
			return 0
		}
		return runes[j]
	}
	switch runes[i] {
	case 0x00B7: // MIDDLE DOT, Catalan "l·l"
		return at(i-1) == 'l' && at(i+1) == 'l', true
	case 0x0375: // GREEK KERAIA
		return unicode.Is(unicode.Greek, at(i+1)), true
	case 0x05F3, 0x05F4: // HEBREW GERESH, GERSHAYIM
		return unicode.Is(unicode.Hebrew, at(i-1)), true
	case 0x30FB: // KATAKANA MIDDLE DOT
		for _, r := range runes {
			if unicode.In(r, unicode.Hiragana, unicode.Katakana, unicode.Han) {
				return true, true
			}
		}
		return false, true
	}
	return false, false
}

// checkDigitMix refuses Arabic-Indic and Extended Arabic-Indic digits in one
// label (RFC 5892 Appendix A.8, A.9): several of them look the same.
func checkDigitMix(runes []rune) error {
	var arabic, extended bool
	for _, r := range runes {
		arabic = arabic || 0x0660 <= r && r <= 0x0669
		extended = extended || 0x06F0 <= r && r <= 0x06F9
	}
	if arabic && extended {
		return fmt.Errorf("label mixes Arabic-Indic and Extended Arabic-Indic digits")
	}
	return nil
}
