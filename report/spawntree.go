package report

import (
	"fmt"
	"slices"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// maxTreeNodes is how many groups a spawn tree shows before it prunes the smallest.
const maxTreeNodes = 150

// spawnTree is the graph of which groups' goroutines started which: a node per shown
// group, an edge from the group of a goroutine's parent to the goroutine's group,
// weighted by how many goroutines it stands for.
type spawnTree struct {
	nodes []treeNode
	edges []treeEdge
	// prunedGroups and prunedGoroutines count what was left out to keep the tree small.
	prunedGroups, prunedGoroutines int
}

type treeNode struct {
	group *snapshot.Group // nil for the pseudo nodes
	// pseudo names a node that is not a group: the parents not in the snapshot, or the
	// pruned groups.
	pseudo string
	count  int
}

type treeEdge struct{ from, to, count int }

// Pseudo node texts.
const (
	goneParents  = "parents not in the snapshot (exited)"
	prunedParent = "parents in groups not shown"
)

// buildSpawnTree makes the tree of groups, which GroupBy made from s.Goroutines; with
// top > 0, or more than maxTreeNodes groups, only the largest groups are nodes.
func buildSpawnTree(s *snapshot.Snapshot, groups []snapshot.Group, top int) (*spawnTree, error) {
	limit := maxTreeNodes
	if top > 0 && top < limit {
		limit = top
	}
	shown := min(len(groups), limit)
	t := &spawnTree{}
	groupOf := make([]int32, len(s.Goroutines))
	for i := range groupOf {
		groupOf[i] = -1
	}
	for gi := range groups {
		for _, m := range groups[gi].Members {
			if m < 0 || m >= len(s.Goroutines) {
				return nil, fmt.Errorf("render spawn tree: group %q names goroutine #%d of %d: group the goroutines of the snapshot you render", groups[gi].Key, m, len(s.Goroutines))
			}
			groupOf[m] = int32(gi)
		}
		if gi < shown {
			t.nodes = append(t.nodes, treeNode{group: &groups[gi], count: groups[gi].Count})
		} else {
			t.prunedGroups++
			t.prunedGoroutines += groups[gi].Count
		}
	}
	byID := make(map[int64]int, len(s.Goroutines))
	for i := range s.Goroutines {
		if id := s.Goroutines[i].ID; id != 0 {
			byID[id] = i
		}
	}
	pseudo := map[string]int{}
	pseudoNode := func(name string) int {
		n, ok := pseudo[name]
		if !ok {
			n = len(t.nodes)
			pseudo[name] = n
			t.nodes = append(t.nodes, treeNode{pseudo: name})
		}
		return n
	}
	type pair struct{ from, to int }
	weight := map[pair]int{}
	for i := range s.Goroutines {
		to := int(groupOf[i])
		if to < 0 || to >= shown {
			continue
		}
		pid := s.Goroutines[i].ParentID
		if pid == 0 {
			continue
		}
		from := -1
		if p, ok := byID[pid]; !ok {
			from = pseudoNode(goneParents)
		} else if pg := int(groupOf[p]); pg >= 0 && pg < shown {
			from = pg
		} else {
			from = pseudoNode(prunedParent)
		}
		weight[pair{from, to}]++
	}
	for p, n := range weight {
		t.edges = append(t.edges, treeEdge{p.from, p.to, n})
		if t.nodes[p.from].group == nil {
			t.nodes[p.from].count += n
		}
	}
	slices.SortFunc(t.edges, func(a, b treeEdge) int {
		if a.from != b.from {
			return a.from - b.from
		}
		return a.to - b.to
	})
	return t, nil
}

// prunedNote says what a pruned tree leaves out; "" when nothing.
func (t *spawnTree) prunedNote() string {
	if t.prunedGroups == 0 {
		return ""
	}
	return fmt.Sprintf("%s smaller %s (%s goroutines) not shown: narrow with --match or --top",
		thousands(int64(t.prunedGroups)), plural(t.prunedGroups, "group", "groups"), thousands(int64(t.prunedGoroutines)))
}

// nodeLines are a node's label lines: count, go statement, start function, dominant state.
func (n *treeNode) lines() []string {
	if n.group == nil {
		return []string{n.pseudo}
	}
	g := n.group
	out := []string{thousands(int64(g.Count)) + " " + plural(g.Count, "goroutine", "goroutines")}
	if g.Origin != nil {
		out = append(out, "go "+shortLoc(g.Origin))
	} else {
		out = append(out, snapshot.NoOrigin)
	}
	if g.Start != nil {
		out = append(out, "start "+shortFunc(g.Start.Func))
	}
	if len(g.States) > 0 {
		st := g.States[0]
		t := st.String()
		if st.Count != g.Count {
			t = fmt.Sprintf("%s (%s)", t, thousands(int64(st.Count)))
		}
		out = append(out, t)
	}
	return out
}
