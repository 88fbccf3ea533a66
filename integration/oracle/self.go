package oracle

import (
	"bytes"
	"runtime"
	"runtime/pprof"
)

// CountSelf counts the goroutines of this process that match, in the runtime's own
// debug=2 dump of it, taking a new dump (at most tries) until the count is want: for
// tests that start goroutines and must wait until they are where the test expects them.
// It returns the count of the last dump.
func CountSelf(want, tries int, match func(*Goroutine) bool) (int, error) {
	n := 0
	for range tries {
		var buf bytes.Buffer
		pprof.Lookup("goroutine").WriteTo(&buf, 2)
		gs, err := Parse(&buf)
		if err != nil {
			return 0, err
		}
		n = 0
		for i := range gs {
			if match(&gs[i]) {
				n++
			}
		}
		if n == want {
			break
		}
		runtime.Gosched()
	}
	return n, nil
}
