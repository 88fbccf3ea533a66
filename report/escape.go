package report

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable returns s with every character a terminal would act on instead of showing
// written as a Go escape: C0 controls (ESC, BEL, NUL, tab, newline), DEL, C1 controls,
// Unicode format characters (bidi overrides such as U+202E, zero-width ones), line and
// paragraph separators, and bytes that are not UTF-8 — "\x1b[2J", "\u202e", "\xff".
// Other text, including non-ASCII letters, is kept as it is; a string with nothing to
// escape is returned without copying.
//
// Every string from a target, core, dump or client (labels, function names, file paths,
// wait reasons, warnings, errors) goes through it before text output; JSON and the other
// machine formats carry the exact bytes.
func Printable(s string) string {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if acts(r, n) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])>>4, 16))
			b.WriteString(strconv.FormatUint(uint64(s[i])&15, 16))
		case acts(r, n):
			q := strconv.QuoteRuneToASCII(r) // "'\x1b'", "'\u202e'"
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// acts reports whether the rune r, n bytes long, is one a terminal acts on or that
// changes how the text around it reads (see Printable).
func acts(r rune, n int) bool {
	if r < utf8.RuneSelf {
		return r < 0x20 || r == 0x7f
	}
	return (r == utf8.RuneError && n == 1) || unicode.IsControl(r) ||
		unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}
