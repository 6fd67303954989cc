package grant

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// IDNA2008 says which code points may appear, not whether a label looks like
// another one. A grant is worth exactly its names, so a name that reads as
// "example" but is not must be refused rather than granted under a look-alike.
// checkScript applies a small, predictable part of UTS 39:
//
//   - a label uses one script, or one of the Highly Restrictive combinations
//     (Latin+Han+Hiragana+Katakana, Latin+Han+Bopomofo, Latin+Han+Hangul);
//   - an all-Cyrillic or all-Greek label made only of letters that look like
//     Latin ones ("аре", "ορ") is refused (whole-script confusable);
//   - a few Latin letters that are look-alikes of ASCII letters (dotless ı,
//     script ɡ, ...) and "i"/"j" followed by a combining dot are refused.
//
// It is not the full confusables table; it closes the cheap, well-known tricks.
func checkScript(u string) error {
	var seen []*unicode.RangeTable
	var prev rune
	for _, r := range u {
		if strings.ContainsRune(latinLookalikes, r) {
			return fmt.Errorf("%q looks like an ASCII letter but is not one", r)
		}
		if r == '\u0307' && (prev == 'i' || prev == 'j') {
			return errors.New(`"i" or "j" with a combining dot above looks like the plain letter`)
		}
		prev = r
		sc := scriptOf(r)
		if sc == nil || sc == unicode.Common || sc == unicode.Inherited {
			continue
		}
		if !containsTable(seen, sc) {
			seen = append(seen, sc)
		}
	}
	if !allowedScripts(seen) {
		return fmt.Errorf("label mixes scripts (%s); a label uses one script", scriptNames(seen))
	}
	if len(seen) == 1 {
		if set, ok := wholeScriptLookalikes[seen[0]]; ok && onlyFrom(u, seen[0], set) {
			return errors.New("every letter looks like a Latin letter; this label would be read as a different, ASCII name")
		}
	}
	return nil
}

// latinLookalikes are Latin-script letters that IDNA accepts and that render
// like plain ASCII letters.
const latinLookalikes = "\u0131\u0237\u0251\u0261\u0269\u026a\u028f\u01c0\u01c3\u0262\u1d00\u1d04\u1d05\u1d07\u1d0a\u1d0b\u1d0d\u1d0f\u1d18\u1d1b\u1d1c\u1d20\u1d21\u1d22"

var wholeScriptLookalikes = map[*unicode.RangeTable]string{
	unicode.Cyrillic: "асԁеһіјӏорԛѕԝхуъьҽпгѵѡ",
	unicode.Greek:    "αγικνορτυχ",
}

// onlyFrom reports whether every letter of u in script sc is one of set.
func onlyFrom(u string, sc *unicode.RangeTable, set string) bool {
	for _, r := range u {
		if unicode.Is(sc, r) && !strings.ContainsRune(set, r) {
			return false
		}
	}
	return true
}

var highlyRestrictive = [][]*unicode.RangeTable{
	{unicode.Latin, unicode.Han, unicode.Hiragana, unicode.Katakana},
	{unicode.Latin, unicode.Han, unicode.Bopomofo},
	{unicode.Latin, unicode.Han, unicode.Hangul},
}

func allowedScripts(seen []*unicode.RangeTable) bool {
	if len(seen) <= 1 {
		return true
	}
	for _, combo := range highlyRestrictive {
		ok := true
		for _, sc := range seen {
			if !containsTable(combo, sc) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func containsTable(ts []*unicode.RangeTable, t *unicode.RangeTable) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// scripts is every Unicode script, the common ones first so that typical
// labels resolve in a few lookups.
var scripts, scriptName = func() ([]*unicode.RangeTable, map[*unicode.RangeTable]string) {
	first := []string{"Latin", "Common", "Inherited", "Cyrillic", "Greek", "Han", "Hiragana", "Katakana", "Hangul", "Arabic", "Hebrew"}
	names := make([]string, 0, len(unicode.Scripts))
	for n := range unicode.Scripts {
		names = append(names, n)
	}
	sort.Strings(names)
	order := make([]*unicode.RangeTable, 0, len(names))
	byTable := make(map[*unicode.RangeTable]string, len(names))
	for _, n := range append(first, names...) {
		t := unicode.Scripts[n]
		if _, dup := byTable[t]; !dup {
			byTable[t] = n
			order = append(order, t)
		}
	}
	return order, byTable
}()

func scriptOf(r rune) *unicode.RangeTable {
	for _, t := range scripts {
		if unicode.Is(t, r) {
			return t
		}
	}
	return nil
}

func scriptNames(ts []*unicode.RangeTable) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = scriptName[t]
	}
	return strings.Join(names, ", ")
}
