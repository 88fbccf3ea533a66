package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestDAPListenRefusesRemote: --listen serves loopback addresses only, unless
// --allow-remote says otherwise; bad flags are usage errors (exit status 2) before
// anything listens.
func TestDAPListenRefusesRemote(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"dap", "--listen", "0.0.0.0:0"}, "not a loopback address"},
		{[]string{"dap", "--listen", ":0"}, "not a loopback address"},
		{[]string{"dap", "--listen", "[::]:0"}, "not a loopback address"},
		{[]string{"dap", "--listen", "127.0.0.1"}, "missing port"},
		{[]string{"dap", "--allow-remote"}, "only with --listen"},
		{[]string{"dap", "4242"}, "takes no arguments"},
		{[]string{"dap", "--bogus"}, "unknown flag --bogus"},
	} {
		var stdout, stderr bytes.Buffer
		code := Run(tc.args, &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("gorigin %s: exit status %d, stderr %q; want 2 and %q", strings.Join(tc.args, " "), code, stderr.String(), tc.want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:4711": true, "[::1]:4711": true, "localhost:4711": true, "127.8.9.10:1": true,
		"0.0.0.0:4711": false, ":4711": false, "10.0.0.1:4711": false, "[::]:1": false,
	} {
		got, err := isLoopback(addr)
		if err != nil || got != want {
			t.Errorf("isLoopback(%q) = %v, %v; want %v", addr, got, err, want)
		}
	}
}
