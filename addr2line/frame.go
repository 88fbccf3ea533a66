package addr2line

// SPDelta returns how far the stack pointer at pc is below the one the function had on
// entry (the runtime's funcspdelta, from the pcsp table): what a stack unwinder adds to
// the stack pointer to find the caller's frame. It works without frame pointers and at
// any instruction, so it unwinds goroutines whose saved frame pointer is stale (those in
// a system call before Go 1.23, for one).
func (t *Table) SPDelta(pc uint64) (int64, bool) {
	f, entry, ok := t.findFunc(pc)
	if !ok {
		return 0, false
	}
	d := t.tab.pcvalue(f.pcsp, entry, pc)
	if d < 0 {
		return 0, false
	}
	return int64(d), true
}
