package delve

import (
	"net"
	"strings"
	"testing"
)

// TestGuardProtocol: the guard does nothing when gorigin owes no continue (it finished,
// or paid what it owed before dying), and says what to do when it owes one it cannot pay.
// That it continues a real dlv's session is integration's TestDlvSessionKilledMidHalt.
func TestGuardProtocol(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := ln.Addr().String()
	ln.Close() // nothing listens there now: a guard that tried to connect would fail
	for _, c := range []struct {
		name, lines string
		status      int
		says        string
	}{
		{"done", "owe\npaid\ndone\n", 0, ""},
		{"done while owing", "owe\ndone\n", 0, ""},
		{"died with nothing owed", "", 0, ""},
		{"died after paying", "owe\npaid\n", 0, ""},
		{"died owing", "owe\npaid\nowe\n", 1, "continue it with dlv connect " + free},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stderr strings.Builder
			if got := RunGuard(free, strings.NewReader(c.lines), &stderr); got != c.status {
				t.Errorf("exit status %d, want %d", got, c.status)
			}
			if c.says == "" && stderr.Len() > 0 || !strings.Contains(stderr.String(), c.says) {
				t.Errorf("stderr %q, want %q", stderr.String(), c.says)
			}
		})
	}
}
