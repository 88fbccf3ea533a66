package dbg

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestPtraceRemedy: root is never told to run as root; it is told what else refuses
// ptrace. (Tests run as root; the non-root answer is the one of the reliability suite's
// run as the user nobody.)
func TestPtraceRemedy(t *testing.T) {
	if os.Geteuid() != 0 {
		if r := PtraceRemedy(); !strings.Contains(r, "run as root") {
			t.Errorf("to a user: %q, want it to say run as root", r)
		}
		return
	}
	r := PtraceRemedy()
	if strings.Contains(r, "run as root") {
		t.Errorf("to root: %q", r)
	}
	if !strings.Contains(r, "CAP_SYS_PTRACE") && !strings.Contains(r, "seccomp") && !strings.Contains(r, "ptrace_scope") {
		t.Errorf("to root: %q names neither a capability, seccomp nor yama", r)
	}
}

func TestHasCapability(t *testing.T) {
	status := func(capEff string) func(string) ([]byte, error) {
		return func(string) ([]byte, error) {
			return []byte("Name:\tgorigin\nCapInh:\t0000000000000000\nCapEff:\t" + capEff + "\nCapBnd:\t000001ffffffffff\n"), nil
		}
	}
	cases := []struct {
		name string
		read func(string) ([]byte, error)
		want bool
	}{
		{"every capability", status("000001ffffffffff"), true},
		{"a container's default set, without CAP_SYS_PTRACE", status("00000000a80425fb"), false},
		{"only CAP_SYS_PTRACE", status("0000000000080000"), true},
		{"unreadable status", func(string) ([]byte, error) { return nil, errors.New("no /proc") }, true},
	}
	for _, c := range cases {
		if got := hasCapability(c.read, capSysPtrace); got != c.want {
			t.Errorf("%s: hasCapability = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestInitialUserNamespace(t *testing.T) {
	for _, c := range []struct {
		uidMap string
		want   bool
	}{
		{"         0          0 4294967295\n", true},
		{"         0       1000          1\n", false}, // unshare --user --map-root-user
		{"         0     100000      65536\n", false}, // a rootless container
	} {
		read := func(string) ([]byte, error) { return []byte(c.uidMap), nil }
		if got := initialUserNamespace(read); got != c.want {
			t.Errorf("uid_map %q: initialUserNamespace = %v, want %v", c.uidMap, got, c.want)
		}
	}
}
