package leaks

import (
	"fmt"
	"os"
	"strings"
)

// explainEnv, when set, makes the analysis remember how each object was reached, and each
// live verdict name the path from its root: slower and larger, for checking a verdict.
const explainEnv = "GORIGIN_LEAKS_EXPLAIN"

func explaining() bool { return os.Getenv(explainEnv) != "" }

// pathTo describes how the heap object obj was reached: from which word of which object,
// up to a root.
func (a *analysis) pathTo(obj uint64) string {
	if a.k.from == nil {
		return ""
	}
	var steps []string
	seen := map[uint64]bool{}
	for i := 0; i < 64; i++ {
		at, ok := a.k.from[obj]
		if !ok || seen[obj] {
			break
		}
		seen[obj] = true
		if at == 0 {
			steps = append(steps, "an object with a finalizer or cleanup")
			break
		}
		if at == atRegister {
			steps = append(steps, "a register of a thread")
			break
		}
		if o, base, size, ok := a.h.find(at); ok {
			if a.k.skip[base] {
				steps = append(steps, fmt.Sprintf("the g struct at %#x (+%d)", base, at-base))
				break
			}
			steps = append(steps, fmt.Sprintf("object %#x (%d bytes, +%d)", base, size, at-base))
			obj = o
			continue
		}
		steps = append(steps, a.describeRoot(at))
		break
	}
	return strings.Join(steps, " ← ")
}

func (a *analysis) describeRoot(at uint64) string {
	for _, r := range a.named {
		if at >= r.lo && at < r.hi {
			return fmt.Sprintf("word %#x of the %s", at, r.name)
		}
	}
	for _, p := range a.l.pointerful {
		if at >= p[0]+a.bias && at < p[1]+a.bias {
			return fmt.Sprintf("global word %#x (link-time %#x)", at, at-a.bias)
		}
	}
	if i, ok := a.stackOf(at); ok {
		g := a.gs[i].g
		return fmt.Sprintf("stack of goroutine %d (%s %s)", g.ID, g.Status, a.gs[i].reason)
	}
	return fmt.Sprintf("word %#x outside the heap, globals and goroutine stacks (a thread's stack?)", at)
}
