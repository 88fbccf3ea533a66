package addr2line

import (
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
)

// dwarfInline is one DW_TAG_inlined_subroutine.
type dwarfInline struct {
	name     string
	ranges   [][2]uint64
	callFile string
	callLine int
	parent   *dwarfInline // nil for a call inlined directly into the subprogram
}

func (in *dwarfInline) contains(pc uint64) bool {
	for _, r := range in.ranges {
		if pc >= r[0] && pc < r[1] {
			return true
		}
	}
	return false
}

// dwarfFunc is a concrete DW_TAG_subprogram with the calls inlined into it.
type dwarfFunc struct {
	name      string
	low, high uint64
	inlines   []*dwarfInline
	lines     *lineTable
}

// lineTable holds the rows of one unit's DWARF line program, by address.
type lineTable struct {
	rows []dwarf.LineEntry
}

func readLineTable(lr *dwarf.LineReader) (*lineTable, error) {
	lt := &lineTable{}
	for {
		var le dwarf.LineEntry
		err := lr.Next(&le)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		lt.rows = append(lt.rows, le)
	}
	sort.SliceStable(lt.rows, func(i, j int) bool { return lt.rows[i].Address < lt.rows[j].Address })
	return lt, nil
}

// chain returns the inlined calls containing pc, innermost first.
func (fn *dwarfFunc) chain(pc uint64) []*dwarfInline {
	var deepest *dwarfInline
	depth := -1
	for _, in := range fn.inlines {
		if !in.contains(pc) {
			continue
		}
		d := 0
		for p := in.parent; p != nil; p = p.parent {
			d++
		}
		if d > depth {
			deepest, depth = in, d
		}
	}
	var out []*dwarfInline
	for in := deepest; in != nil; in = in.parent {
		out = append(out, in)
	}
	return out
}

// dwarfFuncs reads the concrete functions of the compilation units named in
// cus from the executable's DWARF.
func dwarfFuncs(t *testing.T, path string, cus ...string) []*dwarfFunc {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := f.DWARF()
	if err != nil {
		t.Fatalf("%s: no DWARF: %v", path, err)
	}
	want := map[string]bool{}
	for _, cu := range cus {
		want[cu] = true
	}
	// Abstract subprograms may live in any unit (runtime.Callers is
	// inlined into main), so name every subprogram first.
	names := map[dwarf.Offset]string{}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e == nil {
			break
		}
		if e.Tag == dwarf.TagSubprogram {
			if n, ok := e.Val(dwarf.AttrName).(string); ok {
				names[e.Offset] = n
			}
		}
	}

	var funcs []*dwarfFunc
	r = d.Reader()
	for {
		cu, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if cu == nil {
			break
		}
		if cu.Tag != dwarf.TagCompileUnit {
			r.SkipChildren()
			continue
		}
		if name, _ := cu.Val(dwarf.AttrName).(string); !want[name] {
			r.SkipChildren()
			continue
		}
		lr, err := d.LineReader(cu)
		if err != nil || lr == nil {
			t.Fatalf("line table of %v: %v", cu.Val(dwarf.AttrName), err)
		}
		files := lr.Files()
		lines, err := readLineTable(lr)
		if err != nil {
			t.Fatalf("line table of %v: %v", cu.Val(dwarf.AttrName), err)
		}
		nameOf := func(e *dwarf.Entry) string {
			if n, ok := e.Val(dwarf.AttrName).(string); ok {
				return n
			}
			if o, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset); ok {
				return names[o]
			}
			return "?"
		}
		// Walk the unit's tree, keeping the stack of open entries.
		type open struct {
			fn     *dwarfFunc
			inline *dwarfInline
		}
		stack := []open{{}}
		for {
			e, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if e == nil || e.Tag == 0 && len(stack) == 1 {
				break
			}
			if e.Tag == 0 {
				stack = stack[:len(stack)-1]
				continue
			}
			top := stack[len(stack)-1]
			cur := top
			switch e.Tag {
			case dwarf.TagSubprogram:
				low, okLow := e.Val(dwarf.AttrLowpc).(uint64)
				if okLow {
					rs, err := d.Ranges(e)
					if err != nil || len(rs) != 1 {
						t.Fatalf("ranges of %s: %v %v", nameOf(e), rs, err)
					}
					cur = open{fn: &dwarfFunc{name: nameOf(e), low: low, high: rs[0][1], lines: lines}}
					funcs = append(funcs, cur.fn)
				}
			case dwarf.TagInlinedSubroutine:
				if top.fn == nil {
					t.Fatalf("inlined subroutine %s outside a subprogram", nameOf(e))
				}
				rs, err := d.Ranges(e)
				if err != nil {
					t.Fatal(err)
				}
				in := &dwarfInline{name: nameOf(e), ranges: rs, parent: top.inline}
				if i, ok := e.Val(dwarf.AttrCallFile).(int64); ok && i >= 0 && int(i) < len(files) && files[i] != nil {
					in.callFile = files[i].Name
				}
				if l, ok := e.Val(dwarf.AttrCallLine).(int64); ok {
					in.callLine = int(l)
				}
				top.fn.inlines = append(top.fn.inlines, in)
				cur = open{fn: top.fn, inline: in}
			}
			if e.Children {
				stack = append(stack, cur)
			}
		}
	}
	sort.Slice(funcs, func(i, j int) bool { return funcs[i].low < funcs[j].low })
	return funcs
}

// lineAt returns the DWARF line table's file:line for pc: the last row at
// or before pc, which must not end a sequence.
func (fn *dwarfFunc) lineAt(pc uint64) (string, int, error) {
	rows := fn.lines.rows
	i := sort.Search(len(rows), func(i int) bool { return rows[i].Address > pc }) - 1
	// Among rows at the same address the last one applies.
	if i < 0 || rows[i].EndSequence || rows[i].File == nil {
		return "", 0, fmt.Errorf("no line table row covers %#x", pc)
	}
	return rows[i].File.Name, rows[i].Line, nil
}

// TestLookupMatchesDWARF checks every PC of the functions of packages main
// and sync against the DWARF line table and DW_TAG_inlined_subroutine
// nesting, on amd64 and (not run, so only here) arm64.
func TestLookupMatchesDWARF(t *testing.T) {
	for _, tc := range toolchains {
		for _, variant := range []string{"exe", "pie", "arm64"} {
			if variant == "arm64" && tc != toolchains[0] {
				continue // building another toolchain's arm64 std is slow when the cache is cold
			}
			t.Run(tc+"/"+variant, func(t *testing.T) {
				path := buildProg(t, tc, variant)
				tab := openTable(t, path)
				funcs := dwarfFuncs(t, path, "main", "sync")
				var st dwarfStats
				for _, fn := range funcs {
					for pc := fn.low; pc < fn.high && !isGenerated(fn); pc++ {
						if err := st.compare(tab, fn, pc); err != nil {
							t.Fatalf("pc %#x in %s: %v", pc, fn.name, err)
						}
					}
				}
				st.log(t, len(funcs))
				if len(funcs) < 10 || st.inlined < 50 || st.nested < 10 || st.lines != st.pcs {
					t.Fatalf("the DWARF oracle saw too little: the test would pass vacuously")
				}
			})
		}
	}
}

// TestLookupMatchesDWARFStd checks every third PC of the runtime and a few
// other standard packages, whose inlining is deep. The inline chains must
// match everywhere; the innermost line may differ only where the DWARF
// line table has no row of its own (assembler padding after the line
// program was written: 6 PCs of 150,000 with Go 1.20), at most one PC in
// 10,000. PCs whose lines DWARF keeps in another unit (generated
// wrappers) are checked for their chain only.
func TestLookupMatchesDWARFStd(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: reads all of the runtime's DWARF")
	}
	type build struct{ toolchain, variant string }
	builds := []build{{toolchains[0], "arm64"}}
	for _, tc := range toolchains {
		builds = append(builds, build{tc, "exe"})
	}
	for _, b := range builds {
		t.Run(b.toolchain+"/"+b.variant, func(t *testing.T) {
			path := buildProg(t, b.toolchain, b.variant)
			tab := openTable(t, path)
			funcs := dwarfFuncs(t, path, "runtime", "fmt", "strconv", "reflect", "os", "internal/poll", "internal/abi")
			st := dwarfStats{lenient: true}
			for _, fn := range funcs {
				for pc := fn.low; pc < fn.high && !isGenerated(fn); pc += 3 {
					if err := st.compare(tab, fn, pc); err != nil {
						t.Fatalf("pc %#x in %s: %v", pc, fn.name, err)
					}
				}
			}
			st.log(t, len(funcs))
			for _, m := range st.lineMismatches[:min(len(st.lineMismatches), 10)] {
				t.Log("DWARF line table differs:", m)
			}
			if len(st.lineMismatches)*10000 > st.pcs {
				t.Errorf("%d of %d PCs have another innermost line than DWARF's", len(st.lineMismatches), st.pcs)
			}
			if len(funcs) < 500 || st.nested < 1000 || st.lines < st.pcs*9/10 {
				t.Fatalf("the DWARF oracle saw too little: the test would pass vacuously")
			}
		})
	}
}

// isGenerated reports compiler-generated functions, whose line table rows
// are not in their own unit.
func isGenerated(fn *dwarfFunc) bool {
	return strings.HasPrefix(fn.name, "type:")
}

type dwarfStats struct {
	lenient                     bool // tolerate missing or different DWARF line rows, collecting them
	pcs, lines, inlined, nested int
	lineMismatches              []string
}

func (st *dwarfStats) log(t *testing.T, nfuncs int) {
	t.Logf("%d functions, %d PCs checked (%d with a DWARF line row), %d inside inlined calls, %d inside nested inlined calls",
		nfuncs, st.pcs, st.lines, st.inlined, st.nested)
}

// compare checks Lookup(pc) against DWARF. It returns an error for a
// different chain of frames, and for a different innermost line unless
// st.lineMismatches collects those.
func (st *dwarfStats) compare(tab *Table, fn *dwarfFunc, pc uint64) error {
	st.pcs++
	frames, ok := tab.Lookup(pc)
	if !ok {
		return errors.New("Lookup found no function")
	}
	chain := fn.chain(pc)
	if len(chain) > 0 {
		st.inlined++
	}
	if len(chain) > 1 {
		st.nested++
	}
	if len(frames) != len(chain)+1 {
		return fmt.Errorf("Lookup gave %d frames %+v, DWARF nests %d inlined calls", len(frames), frames, len(chain))
	}
	for i, fr := range frames {
		wantName, wantInlined := printName(fn.name), false
		if i < len(chain) {
			wantName, wantInlined = printName(chain[i].name), true
		}
		if fr.Func != wantName || fr.Inlined != wantInlined || fr.Entry != fn.low {
			return fmt.Errorf("frame %d is %+v, DWARF says %s (inlined %v) in the function at %#x", i, fr, wantName, wantInlined, fn.low)
		}
		if i > 0 && (fr.File != chain[i-1].callFile || fr.Line != chain[i-1].callLine) {
			return fmt.Errorf("frame %d calls %s at %s:%d, DWARF call site is %s:%d", i, chain[i-1].name, fr.File, fr.Line, chain[i-1].callFile, chain[i-1].callLine)
		}
	}
	file, line, err := fn.lineAt(pc)
	if err != nil {
		if st.lenient {
			return nil
		}
		return fmt.Errorf("DWARF line table: %w", err)
	}
	st.lines++
	if frames[0].File != file || frames[0].Line != line {
		err := fmt.Errorf("innermost position %s:%d, DWARF line table says %s:%d", frames[0].File, frames[0].Line, file, line)
		if !st.lenient {
			return err
		}
		st.lineMismatches = append(st.lineMismatches, fmt.Sprintf("pc %#x in %s: %v", pc, fn.name, err))
	}
	return nil
}
