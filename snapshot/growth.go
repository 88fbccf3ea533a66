package snapshot

// GrewEveryInterval reports whether counts — one group's sizes in successive snapshots,
// oldest first — rose at every interval: at least two counts, each larger than the one
// before. It is the growth rule of gorigin watch and of the agent: growth in every
// interval, not in total, so that a group that only fluctuates is not called growing.
func GrewEveryInterval(counts []int) bool {
	for i := 1; i < len(counts); i++ {
		if counts[i] <= counts[i-1] {
			return false
		}
	}
	return len(counts) > 1
}

// WithoutSystem returns gs without the runtime's system goroutines (GC workers, the
// finalizer...) and how many it left out. gs itself comes back when it holds none; else
// one exact copy, as a million goroutines are over 100 MB.
func WithoutSystem(gs []Goroutine) ([]Goroutine, int) {
	hidden := 0
	for i := range gs {
		if gs[i].System {
			hidden++
		}
	}
	if hidden == 0 {
		return gs, 0
	}
	user := make([]Goroutine, 0, len(gs)-hidden)
	for i := range gs {
		if !gs[i].System {
			user = append(user, gs[i])
		}
	}
	return user, hidden
}
