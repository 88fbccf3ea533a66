package source

import (
	"fmt"
	"sort"

	"github.com/gorigin-dev/gorigin/leaks"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// leakReport is the analysis' explanation for the snapshot's JSON: its freeze and mode,
// and per go statement, start function and verdict, the reasons and the distinct wait
// objects with how many goroutines wait on each.
func leakReport(snap *snapshot.Snapshot, res *leaks.Result, live bool) *snapshot.LeakReport {
	r := &snapshot.LeakReport{}
	if live {
		r.Mode, r.FreezeMicros, r.CopiedBytes = res.Stats.Mode, res.Stats.Freeze.Microseconds(), res.Stats.Copied
		r.Recopy, r.RecopyWhy, r.RecopiedBytes = res.Stats.Recopy, res.Stats.RecopyWhy, res.Stats.Recopied
	}
	type key struct {
		verdict       snapshot.Verdict
		origin, start string
	}
	index := map[key]int{}
	var members [][]int
	for i := range snap.Goroutines {
		g := &snap.Goroutines[i]
		v, ok := res.Verdicts[g.ID]
		if !ok {
			continue
		}
		if v.ByDesign {
			r.ByDesign = append(r.ByDesign, snapshot.LeakByDesign{ID: g.ID, Why: v.Why})
			continue
		}
		k := key{v.Leak, g.Origin.String(), ""}
		if g.Start != nil {
			k.start = g.Start.Func
		}
		j, ok := index[k]
		if !ok {
			j = len(r.Groups)
			index[k] = j
			r.Groups = append(r.Groups, snapshot.LeakGroup{Verdict: v.Leak, Origin: g.Origin, Start: g.Start})
			members = append(members, nil)
		}
		members[j] = append(members[j], i)
	}
	for j := range r.Groups {
		grp := &r.Groups[j]
		for _, i := range members[j] {
			grp.Goroutines = append(grp.Goroutines, snap.Goroutines[i].ID)
		}
		grp.Why = LeakWhys(snap, res, members[j])
		grp.WaitObjects = WaitObjects(snap, res, members[j])
	}
	rank := map[snapshot.Verdict]int{leaks.Leaked: 0, leaks.Unknown: 1, leaks.Live: 2}
	sort.SliceStable(r.Groups, func(a, b int) bool {
		x, y := &r.Groups[a], &r.Groups[b]
		if rank[x.Verdict] != rank[y.Verdict] {
			return rank[x.Verdict] < rank[y.Verdict]
		}
		return len(x.Goroutines) > len(y.Goroutines)
	})
	return r
}

// LeakWhys are the distinct "verdict: why" of the members, sorted.
func LeakWhys(snap *snapshot.Snapshot, res *leaks.Result, members []int) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range members {
		v := res.Verdicts[snap.Goroutines[m].ID]
		if s := v.Leak.String() + ": " + v.Why; !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// WaitObjects are the distinct objects the members wait on, each with how many of them
// wait on it, most waited on first.
func WaitObjects(snap *snapshot.Snapshot, res *leaks.Result, members []int) []snapshot.LeakWaitObject {
	index := map[uint64]int{}
	var out []snapshot.LeakWaitObject
	for _, m := range members {
		seen := map[uint64]bool{} // a select may list one channel twice
		for _, o := range res.Verdicts[snap.Goroutines[m].ID].WaitOn {
			if seen[o.Addr] {
				continue
			}
			seen[o.Addr] = true
			j, ok := index[o.Addr]
			if !ok {
				j = len(out)
				index[o.Addr] = j
				out = append(out, snapshot.LeakWaitObject{Kind: o.Kind, Addr: fmt.Sprintf("%#x", o.Addr), Type: o.Type, Where: o.Where, Object: o.Object})
			}
			out[j].Waiters++
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Waiters > out[b].Waiters })
	return out
}
