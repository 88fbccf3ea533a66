package cli

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestUsageErrors: bad command lines exit with status 2 and a message that says what to
// do, before anything is attached to (pid 1 would be refused or frozen otherwise).
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "Usage:"},
		{"unknown command", []string{"atach", "1"}, `unknown command "atach"`},
		{"attach without a pid", []string{"attach"}, "attach takes one process id"},
		{"attach with two pids", []string{"attach", "1", "2"}, "attach takes one process id"},
		{"a pid that is not a number", []string{"attach", "notapid"}, `"notapid" is not a process id`},
		{"a negative pid", []string{"attach", "--", "-5"}, `"-5" is not a process id`},
		{"unknown flag", []string{"attach", "1", "--frobnicate"}, "unknown flag --frobnicate"},
		{"unknown freeze mode", []string{"attach", "1", "--freeze=sometimes"}, `--freeze "sometimes": use always or never`},
		{"unknown format", []string{"attach", "1", "--format", "yaml"}, `--format "yaml": use one of`},
		{"unknown group key", []string{"attach", "1", "--by", "colour"}, "colour"},
		{"bad match regex", []string{"attach", "1", "--match", "origin:("}, "origin:("},
		{"unknown filter field", []string{"attach", "1", "--exclude", "colour:red"}, "colour"},
		{"negative top", []string{"attach", "1", "--top", "-1"}, "--top"},
		{"zero max-freeze", []string{"attach", "1", "--max-freeze", "0s"}, "--max-freeze must be positive"},
		{"max-freeze below the minimum", []string{"attach", "1", "--max-freeze", "500us"}, "give 1ms or more"},
		{"unknown backend", []string{"attach", "1", "--backend", "lldb"}, `--backend "lldb"`},
		{"demo with arguments", []string{"demo", "extra"}, "demo takes no arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(tc.args, &stdout, &stderr)
			if code != exitUsage {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr does not say %q:\n%s", tc.want, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout is not empty on a usage error:\n%s", stdout.String())
			}
		})
	}
}

// TestFlagsAfterThePid: flags may come before or after the pid, as people type them.
func TestFlagsAfterThePid(t *testing.T) {
	for _, args := range [][]string{
		{"--format", "json", "--top", "3", "42"},
		{"42", "--format", "json", "--top", "3"},
		{"--format", "json", "42", "--top", "3"},
	} {
		f := cmdAttach.newFlags(&bytes.Buffer{})
		pos, err := f.parse(args)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if len(pos) != 1 || pos[0] != "42" || f.format != "json" || f.top != 3 {
			t.Errorf("%q: pid %q, format %q, top %d", args, pos, f.format, f.top)
		}
	}
}

// TestNoSuchProcess: a pid that does not exist is bad input (2), and the message names it.
func TestNoSuchProcess(t *testing.T) {
	pid := "4194304" // above the kernel's largest pid (2^22)
	var stdout, stderr bytes.Buffer
	if code := Run([]string{"attach", pid}, &stdout, &stderr); code != exitUsage {
		t.Errorf("exit status %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr.String(), pid) {
		t.Errorf("the message does not name pid %s: %s", pid, stderr.String())
	}
}

// TestAttachToSelfIsRefused: gorigin cannot stop the process it runs in.
func TestAttachToSelfIsRefused(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Run([]string{"attach", strconv.Itoa(os.Getpid())}, &stdout, &stderr)
	if code == exitOK {
		t.Fatalf("attaching to itself succeeded:\n%s", stdout.String())
	}
}

// TestOutputToADevice: -o /dev/null (or any existing non-regular file) is written to, never
// replaced — gorigin runs as root, and renaming over /dev/null would break the machine.
func TestOutputToADevice(t *testing.T) {
	dir := t.TempDir()
	fifo := dir + "/fifo"
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	got := make(chan string, 1)
	go func() {
		b, _ := os.ReadFile(fifo)
		got <- string(b)
	}()
	f := &flags{out: fifo}
	if err := write(f, nil, func(w io.Writer) error { _, err := io.WriteString(w, "report\n"); return err }); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "report\n" {
		t.Errorf("the pipe's reader got %q", s)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the pipe was replaced: %v %v", fi.Mode(), err)
	}

	// A new regular file gets 0666 less the umask, as any file a command creates.
	file := dir + "/report.txt"
	f.out = file
	if err := write(f, nil, func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }); err != nil {
		t.Fatal(err)
	}
	umask := syscall.Umask(0)
	syscall.Umask(umask)
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != os.FileMode(0o666&^umask) {
		t.Errorf("report file mode %v, %v; want %v (umask %03o)", fi.Mode(), err, os.FileMode(0o666&^umask), umask)
	}
}
