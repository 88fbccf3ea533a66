package dump

import (
	"strings"
	"testing"
)

// TestCrash reads the crash message and the crashed goroutine of tracebacks: a panic, a
// recovered panic re-panicked with its signal line, a fatal error with the runtime's
// stack between, a log line that mentions a panic but is followed by no traceback, and
// a message longer than the bounds.
func TestCrash(t *testing.T) {
	g := func(id, state string) string {
		return "goroutine " + id + " [" + state + "]:\nmain.main()\n\t/src/a.go:3 +0x1\n\n"
	}
	long := strings.Repeat("x", maxCrashBytes+100)
	tests := []struct {
		name, text, msg string
		id              int64
	}{
		{"panic", "panic: boom\n\n" + g("1", "running") + g("7", "chan receive"), "panic: boom", 1},
		{"recovered and signal", "panic: first [recovered]\n\tpanic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x1]\n\n" + g("9", "running"),
			"panic: first [recovered]\n\tpanic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x1]", 9},
		{"fatal error, runtime stack first", "fatal error: concurrent map writes\n\nruntime stack:\nruntime.throw({0x1, 0x2})\n\t/go/src/runtime/panic.go:1 +0x1\n\n" + g("0", "idle") + g("5", "running"),
			"fatal error: concurrent map writes", 5},
		{"log prefix", "2026 app: panic: boom\n2026 app: \n2026 app: " + strings.TrimSuffix(g("3", "running"), "\n\n"), "panic: boom", 3},
		{"a mention without a traceback after it", g("2", "select") + "handled panic: fine\n", "", 0},
		{"not a word boundary", "nopanic: x\n\n" + g("4", "running"), "", 0},
		{"bounded", "panic: " + long + "\n" + strings.Repeat("more\n", 40) + "\n" + g("6", "running"), "", 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(strings.NewReader(tt.text), Options{})
			if err != nil {
				t.Fatal(err)
			}
			c := s.Crash
			switch {
			case tt.id == 0 && c != nil:
				t.Errorf("crash %+v, want none", c)
			case tt.id == 0:
			case c == nil:
				t.Errorf("no crash, want %q in goroutine %d", tt.msg, tt.id)
			case c.Goroutine != tt.id || (tt.msg != "" && c.Message != tt.msg):
				t.Errorf("crash %q in goroutine %d, want %q in goroutine %d", c.Message, c.Goroutine, tt.msg, tt.id)
			case len(c.Message) > maxCrashBytes+len("…")+maxCrashLines || strings.Count(c.Message, "\n") >= maxCrashLines:
				t.Errorf("a crash message of %d bytes and %d lines, past the bounds", len(c.Message), strings.Count(c.Message, "\n")+1)
			}
		})
	}
}
