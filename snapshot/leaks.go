package snapshot

// LeakReport is what the leak analysis (gorigin leaks, --leaks) says beyond each
// goroutine's Leak verdict: how it read the target and, per group of goroutines started
// by one go statement with one verdict, why and on what they wait.
type LeakReport struct {
	// Mode is how the marking ran on a live target: "copy" (the target frozen while its
	// heap was copied, the marking after the thaw) or "frozen" (marked while frozen);
	// empty for a core.
	Mode string `json:"mode,omitempty"`
	// FreezeMicros is how long the analysis kept the target frozen (the same freeze as
	// the snapshot's when both were read together); CopiedBytes what the copy held.
	FreezeMicros int64  `json:"freezeMicros,omitempty"`
	CopiedBytes  uint64 `json:"copiedBytes,omitempty"`
	// Recopy is how the freeze refreshed the copy taken while the target ran: "soft-dirty"
	// (only the pages written since, as the kernel's soft-dirty bits tell) or "full";
	// RecopyWhy why not the first, RecopiedBytes how much it read again.
	Recopy        string      `json:"recopy,omitempty"`
	RecopyWhy     string      `json:"recopyWhy,omitempty"`
	RecopiedBytes uint64      `json:"recopiedBytes,omitempty"`
	Groups        []LeakGroup `json:"groups,omitempty"`
	// ByDesign lists goroutines that never wake by design and are no leak to fix: the
	// main goroutine parked in select {}.
	ByDesign []LeakByDesign `json:"byDesign,omitempty"`
}

// LeakGroup is the goroutines of one go statement and start function with one verdict.
type LeakGroup struct {
	Verdict    Verdict   `json:"verdict"`
	Origin     *Location `json:"origin,omitempty"`
	Start      *Location `json:"start,omitempty"`
	Goroutines []int64   `json:"goroutines"`
	// Why are the analysis' reasons, each once.
	Why []string `json:"why"`
	// WaitObjects are the distinct objects its goroutines wait on.
	WaitObjects []LeakWaitObject `json:"waitObjects,omitempty"`
}

// LeakWaitObject is one channel, semaphore or Cond some goroutines wait on.
type LeakWaitObject struct {
	Kind string `json:"kind"` // "chan", "sema", "cond"
	Addr string `json:"addr"` // hex
	// Type where known: "chan *main.T", "sync.Mutex", "sync.WaitGroup", ...
	Type string `json:"type,omitempty"`
	// Where it lives: "heap", "global", "stack of goroutine N", "unknown"; Object which
	// variable ("main.mu") or heap object ("+8 in a 24-byte heap object at 0x...").
	Where  string `json:"where"`
	Object string `json:"object,omitempty"`
	// Waiters is how many goroutines of the group wait on it.
	Waiters int `json:"waiters"`
}

// LeakByDesign is a goroutine blocked for good on purpose.
type LeakByDesign struct {
	ID  int64  `json:"id"`
	Why string `json:"why"`
}
