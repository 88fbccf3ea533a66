package integration

// Cores of stripped executables: the core tests of core_attach_test.go, on the fixture
// built with -ldflags='-s -w' (no symbol table, no DWARF): gorigin reads them with its
// built-in layouts and the runtime variables it finds in machine code.

import (
	"testing"

	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// TestCoreStripped takes a live snapshot of the stripped fixture and a core of the same
// process state (gcore, dlv dump, and the kernel's GOTRACEBACK=crash core), and requires
// gorigin core to give the same goroutines as gorigin attach, and the runtime's debug=2
// counts per go statement.
func TestCoreStripped(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	vs := coreVariants
	if testing.Short() {
		vs = []variant{hostVariant(t)}
	}
	for _, v := range vs {
		t.Run(v.String()+"-stripped", func(t *testing.T) {
			bin := strippedFixture(t, v)
			checkStripped(t, bin)
			t.Run("gcore+dlv", func(t *testing.T) { testDebuggerCores(t, v, bin) })
			t.Run("kernel", func(t *testing.T) { testKernelCore(t, v, bin) })
		})
	}
}
