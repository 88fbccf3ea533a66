package addr2line

// FuncRange returns the entry PC of the function named name (as the pclntab
// names it, e.g. "runtime.allgadd") and the end of its code: the entry of the
// next function in the text. It is for reading a function's machine code in
// an executable without symbols; ok is false if no function has that name.
func (t *Table) FuncRange(name string) (entry, end uint64, ok bool) {
	for i := 0; i < t.tab.nfunc; i++ {
		f, err := t.tab.funcInfo(i)
		if err != nil || f.entryOff == ^uint32(0) || t.tab.funcName(f.nameOff) != name {
			continue
		}
		next, _ := t.tab.ftab(i + 1)
		if next < f.entryOff {
			return 0, 0, false
		}
		return t.text + uint64(f.entryOff), t.text + uint64(next), true
	}
	return 0, 0, false
}
