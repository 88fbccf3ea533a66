package addr2line

import "testing"

// TestFuncRange finds functions by name in a stripped executable and checks them against
// the ELF symbols of the same program built with symbols (the text is the same).
func TestFuncRange(t *testing.T) {
	for _, tc := range toolchains {
		t.Run(tc, func(t *testing.T) {
			syms := funcSymbols(t, buildProg(t, tc, "exe"))
			tab := openTable(t, buildProg(t, tc, "stripped"))
			checked := 0
			for _, s := range syms {
				switch s.Name {
				case "runtime.allgadd", "runtime.waitReason.String", "main.main":
				default:
					continue
				}
				entry, end, ok := tab.FuncRange(s.Name)
				if !ok || entry != s.Value || end < s.Value+s.Size || end-entry > s.Size+64 {
					t.Errorf("FuncRange(%s) = %#x, %#x, %v; the symbol says %#x, %d bytes", s.Name, entry, end, ok, s.Value, s.Size)
				}
				checked++
			}
			if checked != 3 {
				t.Errorf("checked %d functions, want 3", checked)
			}
			if _, _, ok := tab.FuncRange("runtime.noSuchFunction"); ok {
				t.Errorf("FuncRange found a function that does not exist")
			}
		})
	}
}
