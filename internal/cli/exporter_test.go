package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExporterUsageErrors: bad exporter command lines exit with status 2 and say what to
// do, before anything is read or any port opened.
func TestExporterUsageErrors(t *testing.T) {
	dir := t.TempDir()
	badWeb := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(badWeb, []byte("basic_auth_users:\n  prometheus: not-a-bcrypt-hash\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"nothing to export", []string{"exporter"}, "give the processes to export or --all"},
		{"pids and --all", []string{"exporter", "--all", "1"}, "not both"},
		{"not a pid", []string{"exporter", "abc"}, `"abc" is not a process id`},
		{"zero interval", []string{"exporter", "--all", "--interval", "0s"}, "--interval must be positive"},
		{"no origins", []string{"exporter", "--all", "--max-origins", "0"}, "--max-origins must be at least 1"},
		{"unknown freeze", []string{"exporter", "--all", "--freeze", "sometimes"}, `--freeze "sometimes"`},
		{"missing web config", []string{"exporter", "--all", "--web.config.file", filepath.Join(dir, "none.yml")}, "--web.config.file"},
		{"web config without a bcrypt hash", []string{"exporter", "--all", "--web.config.file", badWeb}, "--web.config.file"},
		{"a process that does not exist", []string{"exporter", "999999999"}, "pid 999999999"},
		{"a listen address that is not one", []string{"exporter", "--all", "--listen", "nonsense"}, "--listen nonsense"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Run(tc.args, &stdout, &stderr); code != exitUsage {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr does not say %q:\n%s", tc.want, stderr.String())
			}
		})
	}
}
