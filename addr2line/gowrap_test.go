package addr2line

import (
	"regexp"
	"strings"
	"testing"
)

// bottomFrameRE matches, in a traceback, a goroutine's bottom frame and its "created by".
var bottomFrameRE = regexp.MustCompile(`(?m)^(\S+)\(.*\)\n\t\S+:\d+(?: \+0x[0-9a-f]+)?\ncreated by (\S+)`)

// TestWrappedMatchesTraceback checks Wrapped against the runtime's own tracebacks, which
// hide go statement wrappers: a goroutine created by F whose go statement was wrapped
// starts in F.gowrap1 (F has one go statement), and its bottom printed frame is the
// function the wrapper calls.
func TestWrappedMatchesTraceback(t *testing.T) {
	for _, tc := range toolchains {
		for _, variant := range []string{"exe", "stripped"} {
			t.Run(tc+"/"+variant, func(t *testing.T) {
				path := buildProg(t, tc, variant)
				symtab := funcSymbols(t, symbolSource(t, tc, variant))
				tab := openTable(t, path)
				out := runProg(t, path, "stacks")
				checked := 0
				for _, m := range bottomFrameRE.FindAllStringSubmatch(out, -1) {
					callee, wrapper := m[1], m[2]+".gowrap1"
					for _, s := range symtab {
						if printName(s.Name) != wrapper {
							continue
						}
						checked++
						got, ok := tab.Wrapped(s.Value)
						if !ok || got.Func != callee {
							t.Errorf("Wrapped(%s at %#x) = %q, %v; the runtime prints %q at the bottom", wrapper, s.Value, got.Func, ok, callee)
						}
					}
				}
				t.Logf("%d wrapped go statements checked", checked)
				if strings.Contains(tc, "go1.20") {
					if checked != 0 {
						t.Fatalf("Go 1.20 has no go statement wrappers, but %d were found", checked)
					}
				} else if checked == 0 {
					t.Fatalf("no goroutine starts in a go statement wrapper: the test checks nothing\n%s", out)
				}
				// A function that is not a wrapper is not seen through.
				for _, s := range symtab {
					if printName(s.Name) == "main.main" {
						if got, ok := tab.Wrapped(s.Value); ok {
							t.Errorf("Wrapped(main.main) = %q, want not a wrapper", got.Func)
						}
					}
				}
			})
		}
	}
}
