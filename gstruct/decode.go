package gstruct

// G is one decoded runtime.g. Addresses are target addresses as found in memory (load
// bias included). Fields a Go version does not have are zero.
type G struct {
	Addr         uint64
	ID, ParentID int64  // goid, parentGoid (Go 1.21+)
	StatusCode   uint32 // atomicstatus without the scan bit
	Scan         bool   // the _Gscan bit was set
	// Status is "idle", "runnable", "running", "syscall", "waiting", "dead", "copystack",
	// "preempted", "leaked" or "unknown".
	Status string
	// WaitReason is the runtime's name for why a waiting goroutine waits ("chan receive"),
	// from the target's runtime.waitReasonStrings; "" when it is not waiting (or leaked:
	// Go 1.26's leak detector leaves the reason, as the runtime's traceback shows) or the
	// reason is zero.
	WaitReason                string
	WaitSince                 int64 // about when it blocked, in runtime nanotime (set by the next GC); 0 = unknown
	GoPC, StartPC             uint64
	StackLo, StackHi          uint64
	SchedSP, SchedPC, SchedBP uint64 // g.sched; SchedBP is 0 where gobuf has no bp
	M                         uint64 // the m running it, non-zero while running
	LockedM                   bool   // locked to its thread (runtime.LockOSThread)
	LabelsPtr                 uint64 // g.labels; ReadLabels decodes it into Labels
	Labels                    map[string]string
}

// Decode decodes the runtime.g at addr from raw, GSize() bytes read there. Call Bind first:
// wait reasons are named from the target's table. Fields that do not fit in raw are left
// zero; garbage bytes give a garbage G, never a panic.
func (r *Runtime) Decode(addr uint64, raw []byte) G {
	l := r.l
	u := func(f field) uint64 {
		v, _ := uintAt(l.order, raw, f)
		return v
	}
	g := G{
		Addr:      addr,
		ID:        int64(u(l.goid)),
		ParentID:  int64(u(l.parentGoid)),
		WaitSince: int64(u(l.waitsince)),
		GoPC:      u(l.gopc),
		StartPC:   u(l.startpc),
		StackLo:   u(l.stackLo),
		StackHi:   u(l.stackHi),
		SchedSP:   u(l.schedSP),
		SchedPC:   u(l.schedPC),
		SchedBP:   u(l.schedBP),
		M:         u(l.m),
		LockedM:   u(l.lockedm) != 0,
		LabelsPtr: u(l.labels),
	}
	status := uint32(u(l.status))
	g.Scan = status&l.gscan != 0
	g.StatusCode = status &^ l.gscan
	g.Status = "unknown"
	if name, ok := l.statuses[g.StatusCode]; ok {
		g.Status = name
	}
	if g.StatusCode == l.gwaiting || g.Status == "leaked" { // _Gleaked keeps its reason
		g.WaitReason = r.waitReasonName(u(l.waitreason))
	}
	return g
}

// waitReasonName names a waitReason value as the runtime's waitReason.String does.
func (r *Runtime) waitReasonName(w uint64) string {
	if w == 0 {
		return ""
	}
	if w < uint64(len(r.waitReasons)) {
		return r.waitReasons[w]
	}
	return "unknown wait reason"
}

// LabelsPtr returns just g.labels from a raw runtime.g: a cheap look, for a caller that
// must find the labelled goroutines while the target is frozen and decode the rest later.
func (r *Runtime) LabelsPtr(raw []byte) uint64 {
	v, _ := uintAt(r.l.order, raw, r.l.labels)
	return v
}

// Glance is the little of a runtime.g that says which goroutine it is, whether it
// waits and on what, and where its stack is: what a caller keeps while the target is
// frozen, to name it after the thaw (Named) without a copy of the whole g.
type Glance struct {
	ID               int64
	StatusCode       uint32 // without the scan bit
	Reason           uint64 // g.waitreason, unnamed
	StackLo, StackHi uint64
}

// Glance reads a Glance from raw, GSize() bytes of a runtime.g.
func (r *Runtime) Glance(raw []byte) Glance {
	l := r.l
	u := func(f field) uint64 {
		v, _ := uintAt(l.order, raw, f)
		return v
	}
	return Glance{ID: int64(u(l.goid)), StatusCode: uint32(u(l.status)) &^ l.gscan, Reason: u(l.waitreason),
		StackLo: u(l.stackLo), StackHi: u(l.stackHi)}
}

// Named names a Glance's status and wait reason as Decode does.
func (r *Runtime) Named(gl Glance) (status, waitReason string) {
	status = "unknown"
	if name, ok := r.l.statuses[gl.StatusCode]; ok {
		status = name
	}
	if gl.StatusCode == r.l.gwaiting || status == "leaked" {
		waitReason = r.waitReasonName(gl.Reason)
	}
	return status, waitReason
}

// DecodedBytes is how many leading bytes of a runtime.g Decode, LabelsPtr and Glance
// read (at most GSize): a caller may copy only that much of each g. Go 1.26: 360 of 456.
func (r *Runtime) DecodedBytes() int {
	l := r.l
	n := 0
	for _, f := range []field{l.goid, l.parentGoid, l.status, l.waitsince, l.waitreason, l.gopc, l.startpc,
		l.stackLo, l.stackHi, l.m, l.lockedm, l.labels, l.schedSP, l.schedPC, l.schedBP} {
		if f.present() {
			n = max(n, f.off+f.size)
		}
	}
	return min(n, l.gSize)
}
