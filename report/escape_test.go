package report

import (
	"strings"
	"testing"
)

func TestPrintable(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"plain", "main.(*server).serve /src/api/server.go:56", "main.(*server).serve /src/api/server.go:56"},
		{"non-ASCII letters kept", "tenant=日本 café", "tenant=日本 café"},
		{"window title", "\x1b]0;pwned\x07", `\x1b]0;pwned\a`},
		{"clear screen", "a\x1b[2Jb", `a\x1b[2Jb`},
		{"NUL", "a\x00b", `a\x00b`},
		{"tab and newline", "a\tb\nc\r", `a\tb\nc\r`},
		{"DEL", "\x7f", `\x7f`},
		{"C1 CSI", "\u009b2J", `\u009b2J`},
		{"bidi override", "user\u202egnp.exe", `user\u202egnp.exe`},
		{"bidi isolate", "\u2066x\u2069", `\u2066x\u2069`},
		{"zero width space", "a\u200bb", `a\u200bb`},
		{"line separator", "a\u2028b", `a\u2028b`},
		{"not UTF-8", "a\xffb\xc3", `a\xffb\xc3`},
		{"backslash kept", `C:\x`, `C:\x`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Printable(c.in)
			if got != c.want {
				t.Errorf("Printable(%q) = %q, want %q", c.in, got, c.want)
			}
			for _, r := range got {
				if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0xfffd {
					t.Errorf("Printable(%q) = %q still holds %U", c.in, got, r)
				}
			}
		})
	}
}

func TestPrintableDoesNotCopyCleanText(t *testing.T) {
	s := strings.Repeat("main.serve ", 100)
	if n := testing.AllocsPerRun(10, func() { Printable(s) }); n != 0 {
		t.Errorf("Printable of clean text allocates %v times", n)
	}
}
