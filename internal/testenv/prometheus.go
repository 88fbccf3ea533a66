package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// PrometheusVersion is the Prometheus server and promtool .ci/run builds from the
// Prometheus module (go install -tags remove_all_sd github.com/prometheus/prometheus/cmd/...@version:
// the tag leaves out the service discovery plugins, which the tests do not use).
const PrometheusVersion = "v0.316.0"

// PrometheusTool is the path of the Prometheus program name ("prometheus" or
// "promtool"): in the directory $GORIGIN_PROMETHEUS_BIN (where .ci/run installs them),
// else on PATH. It skips the test when the program is missing, and fails it instead
// under CI=true, where .ci/run must have installed it.
func PrometheusTool(t testing.TB, name string) string {
	t.Helper()
	if dir := os.Getenv("GORIGIN_PROMETHEUS_BIN"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		t.Fatalf("GORIGIN_PROMETHEUS_BIN=%s has no %s: install it with GOBIN=%s go install -tags remove_all_sd github.com/prometheus/prometheus/cmd/%s@%s", dir, name, dir, name, PrometheusVersion)
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	msg := name + " is not installed: go install -tags remove_all_sd github.com/prometheus/prometheus/cmd/" + name + "@" + PrometheusVersion +
		" (or set GORIGIN_PROMETHEUS_BIN to the directory that has it; .ci/run installs it)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
