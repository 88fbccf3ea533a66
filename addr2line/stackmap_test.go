package addr2line

import "testing"

// TestFrameMapsAssembly reads the frame of runtime.futex, where every idle thread sleeps:
// assembly declared without an argument size, which the runtime's argMapInternal treats
// as having no arguments to scan. A stack walk must go on through it, not give up there.
func TestFrameMapsAssembly(t *testing.T) {
	for _, tc := range toolchains {
		t.Run(tc, func(t *testing.T) {
			tab := openTable(t, buildProg(t, tc, "stripped"))
			entry, end, ok := tab.FuncRange("runtime.futex")
			if !ok {
				t.Fatal("runtime.futex not found")
			}
			for _, pc := range []uint64{entry, (entry + end) / 2} {
				m, err := tab.FrameMaps(pc)
				if err != nil {
					t.Fatalf("FrameMaps(%#x in runtime.futex): %v", pc, err)
				}
				if m.Entry != entry || m.ArgsSize != 0 || !m.ArgsUnknown || m.Args != nil || m.Locals != nil || m.SPDelta != 0 {
					t.Errorf("FrameMaps(%#x in runtime.futex) = %+v; want entry %#x, a frame of 0 bytes without arguments or maps", pc, m, entry)
				}
			}
		})
	}
}
