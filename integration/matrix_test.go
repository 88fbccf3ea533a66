package integration

// Which fixture variants a run tests: a covering subset by default, the whole matrix
// with -gorigin.full or GORIGIN_FULL=1, restricted to some toolchains with
// GORIGIN_TOOLCHAINS=go1.20.14,go1.26.8.

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// allToolchains are the Go releases whose binaries gorigin must read (testenv's list;
// .ci/run downloads them).
var allToolchains = testenv.Toolchains

// defaultVariants is what a plain "go test ./..." runs (two cores, minutes not hours):
// every toolchain once; exe, pie, -trimpath and cgo each at least twice, and each of
// their opposites at least once. TestDefaultVariantsCover keeps it so.
var defaultVariants = []variant{
	{Toolchain: "go1.20.14"},
	{Toolchain: "go1.22.12", PIE: true, Trimpath: true, Cgo: true},
	{Toolchain: "go1.24.13", Trimpath: true},
	{Toolchain: "go1.26.8", PIE: true, Cgo: true},
	{Toolchain: "go1.27.3", Cgo: true},
}

// fullMatrixVariants is every toolchain × {exe, pie} × {default, -trimpath} × {cgo off, on}.
func fullMatrixVariants() []variant {
	var vs []variant
	for _, tc := range allToolchains {
		for _, pie := range []bool{false, true} {
			for _, trim := range []bool{false, true} {
				for _, cgo := range []bool{false, true} {
					vs = append(vs, variant{Toolchain: tc, PIE: pie, Trimpath: trim, Cgo: cgo})
				}
			}
		}
	}
	return vs
}

// matrixVariants is this run's selection.
func matrixVariants(t testing.TB) []variant {
	t.Helper()
	vs := defaultVariants
	if *fullMatrix || os.Getenv("GORIGIN_FULL") == "1" {
		vs = fullMatrixVariants()
	}
	only := os.Getenv("GORIGIN_TOOLCHAINS")
	if only == "" {
		return vs
	}
	keep := map[string]bool{}
	for _, tc := range strings.Split(only, ",") {
		tc = strings.TrimSpace(tc)
		known := false
		for _, k := range allToolchains {
			known = known || k == tc
		}
		if !known {
			t.Fatalf("GORIGIN_TOOLCHAINS names %q; the tested toolchains are %s", tc, strings.Join(allToolchains, ","))
		}
		keep[tc] = true
	}
	var out []variant
	for _, v := range vs {
		if keep[v.Toolchain] {
			out = append(out, v)
		}
	}
	return out
}

var host struct {
	once sync.Once
	v    variant
	err  error
}

// hostVariant is the quickest variant to build: the local toolchain, exe, no cgo. Tests
// that are about gorigin's process control rather than Go versions use it.
func hostVariant(t testing.TB) variant {
	t.Helper()
	host.once.Do(func() {
		out, err := exec.Command("go", "env", "GOVERSION").Output()
		host.v, host.err = variant{Toolchain: strings.TrimSpace(string(out))}, err
	})
	if host.err != nil {
		t.Fatalf("go env GOVERSION: %v", host.err)
	}
	return host.v
}

func TestDefaultVariantsCover(t *testing.T) {
	count := map[string]int{}
	for _, v := range defaultVariants {
		count[v.Toolchain]++
		count[map[bool]string{true: "pie", false: "exe"}[v.PIE]]++
		count[map[bool]string{true: "trimpath", false: "default"}[v.Trimpath]]++
		count[map[bool]string{true: "cgo1", false: "cgo0"}[v.Cgo]]++
	}
	for _, tc := range allToolchains {
		if count[tc] == 0 {
			t.Errorf("default variants never use %s", tc)
		}
	}
	for _, k := range []string{"pie", "exe", "trimpath", "cgo1"} {
		if count[k] < 2 {
			t.Errorf("default variants use %s %d times, want at least 2", k, count[k])
		}
	}
	for _, k := range []string{"default", "cgo0"} {
		if count[k] < 1 {
			t.Errorf("default variants never use %s", k)
		}
	}
	full := fullMatrixVariants()
	seen := map[variant]bool{}
	for _, v := range full {
		seen[v] = true
	}
	if len(full) != 40 || len(seen) != 40 {
		t.Errorf("full matrix has %d variants (%d distinct), want 40", len(full), len(seen))
	}
	for _, v := range defaultVariants {
		if !seen[v] {
			t.Errorf("default variant %s is not in the full matrix", v)
		}
	}
}
