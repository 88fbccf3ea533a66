package cli

import (
	"fmt"
	"strings"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// waitObjectText is one line of the "why" section: "chan int 0xc000012345 in the heap: 3
// goroutines".
func waitObjectText(o snapshot.LeakWaitObject) string {
	t := o.Type
	if t == "" {
		t = o.Kind
	}
	where := o.Where
	switch {
	case o.Where == "global" && o.Object != "":
		where = "at " + o.Object
	case o.Object != "":
		where = o.Object
	case o.Where == "heap":
		where = "in the heap"
	default:
		where = "in the " + where
	}
	n := "1 goroutine"
	if o.Waiters != 1 {
		n = fmt.Sprintf("%d goroutines", o.Waiters)
	}
	return fmt.Sprintf("%s %s %s: %s", t, o.Addr, strings.TrimSpace(where), n)
}
