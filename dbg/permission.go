package dbg

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// PtraceRemedy says what to do when the kernel refuses to let gorigin trace a process
// (EPERM): to a user other than root, become root or get CAP_SYS_PTRACE; to root, which
// is refused for other reasons, what those can be, naming the one this machine shows.
func PtraceRemedy() string {
	const generic = "run as root or grant CAP_SYS_PTRACE (see /proc/sys/kernel/yama/ptrace_scope)"
	if os.Geteuid() != 0 {
		return generic
	}
	b, _ := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope")
	scope := strings.TrimSpace(string(b))
	switch {
	case !initialUserNamespace(os.ReadFile):
		return "gorigin runs as root of a user namespace (see /proc/self/uid_map), which has no rights over processes outside it: run gorigin as root of the host, or in the target's namespace"
	case scope == "3":
		return "gorigin runs as root, but /proc/sys/kernel/yama/ptrace_scope is 3: no process may be traced until the machine reboots"
	case !hasCapability(os.ReadFile, capSysPtrace):
		return "gorigin runs as root without CAP_SYS_PTRACE, as in a container: run the container with --cap-add SYS_PTRACE (or the pod with that capability)"
	}
	why := "gorigin runs as root, so something else forbids ptrace: a seccomp filter (a container runtime's default profile blocks ptrace: " +
		"--security-opt seccomp=unconfined), an LSM policy (AppArmor, SELinux), or the target in another user namespace"
	if scope != "" {
		why += fmt.Sprintf(" (yama ptrace_scope is %s)", scope)
	}
	return why
}

// capSysPtrace is CAP_SYS_PTRACE's bit (include/uapi/linux/capability.h).
const capSysPtrace = 19

// hasCapability reports whether this process's effective capabilities (CapEff in
// /proc/self/status) hold bit cap; true when that cannot be read.
func hasCapability(readFile func(string) ([]byte, error), cap uint) bool {
	b, err := readFile("/proc/self/status")
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err != nil || mask&(1<<cap) != 0
		}
	}
	return true
}

// initialUserNamespace reports whether this process is in the host's user namespace: its
// uid_map maps all of the uids onto themselves. True when that cannot be read.
func initialUserNamespace(readFile func(string) ([]byte, error)) bool {
	b, err := readFile("/proc/self/uid_map")
	if err != nil {
		return true
	}
	return strings.Join(strings.Fields(string(b)), " ") == "0 0 4294967295"
}
