package dump

import (
	"fmt"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// maxKept bounds the memory the goroutines read from one dump keep: their structs and
// what the interner could not share (names, stacks, label maps). A real dump of a million
// goroutines keeps about 150 MB (most stacks and every name shared); a dump that needs
// more is refused with snapshot.ErrTooLarge, whatever its kind, however it arrives (a
// stream that never ends stops here too).
const maxKept = 256 << 20

// overBudget is the error of a dump that needs more than budget bytes after n goroutines.
func overBudget(what string, n int, budget int64) error {
	return fmt.Errorf("%s needs more than %d MB of memory after %d goroutines, more than a real dump of that many: "+
		"a crafted, damaged or endless input; if it is real, filter it (grep) or take a debug=1 profile: %w",
		what, budget>>20, n, snapshot.ErrTooLarge)
}
