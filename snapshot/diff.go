package snapshot

import (
	"cmp"
	"slices"
)

// GroupDiff is one group's size in two snapshots of the same program.
type GroupDiff struct {
	// Key is the group's key text (Group.Key), the same in both snapshots.
	Key    string    `json:"key"`
	Origin *Location `json:"origin,omitempty"`
	Start  *Location `json:"start,omitempty"`
	Before int       `json:"before"`
	After  int       `json:"after"`
	Delta  int       `json:"delta"`
	// New counts the group's goroutines in After whose ids are not in Before; NewIDs are
	// up to MaxExamples of them, ascending. Both are empty when ids are unknown.
	New    int     `json:"new,omitempty"`
	NewIDs []int64 `json:"newIds,omitempty"`
	// NewOld counts those new goroutines that have waited at least MinAge (DiffOptions).
	NewOld int `json:"newOld,omitempty"`
	// MaxWaitSeconds is the longest wait in After.
	MaxWaitSeconds float64 `json:"maxWaitSeconds,omitempty"`
}

// Diff compares two snapshots group by group.
type Diff struct {
	By     string `json:"by"`
	Before Source `json:"before"`
	After  Source `json:"after"`
	// BeforeCount and AfterCount are the goroutines compared in each snapshot.
	BeforeCount int `json:"beforeCount"`
	AfterCount  int `json:"afterCount"`
	// IDsKnown is true when both snapshots have goroutine ids, so New can be counted.
	IDsKnown bool `json:"idsKnown"`
	// New counts the goroutines of After that were not in Before (by id); Gone the
	// goroutines of Before that are not in After.
	New  int `json:"new"`
	Gone int `json:"gone"`
	// MinAgeSeconds is DiffOptions.MinAge; NewOld counts the new goroutines that have
	// waited at least that long.
	MinAgeSeconds float64 `json:"minAgeSeconds,omitempty"`
	NewOld        int     `json:"newOld,omitempty"`
	// Groups are sorted by Delta, largest growth first, then by After, then by Key.
	Groups []GroupDiff `json:"groups"`
}

// DiffOptions adjust Compare.
type DiffOptions struct {
	// MinAge, in seconds, counts the new goroutines that have already waited this long:
	// created since Before yet blocked for a while, the shape of a leak.
	MinAge float64
}

// Compare groups both goroutine lists by k and pairs the groups by key text.
func Compare(before, after *Snapshot, beforeGs, afterGs []Goroutine, k Key, opt DiffOptions) Diff {
	d := Diff{
		By: k.String(), Before: before.Source, After: after.Source,
		BeforeCount: len(beforeGs), AfterCount: len(afterGs), MinAgeSeconds: opt.MinAge,
	}
	old := map[int64]bool{}
	d.IDsKnown = len(beforeGs) > 0 && len(afterGs) > 0
	for _, g := range beforeGs {
		d.IDsKnown = d.IDsKnown && g.ID != 0
		old[g.ID] = true
	}
	current := map[int64]bool{}
	for _, g := range afterGs {
		d.IDsKnown = d.IDsKnown && g.ID != 0
		current[g.ID] = true
	}
	at := map[string]int{}
	add := func(grp Group) *GroupDiff {
		i, ok := at[grp.Key]
		if !ok {
			i = len(d.Groups)
			at[grp.Key] = i
			d.Groups = append(d.Groups, GroupDiff{Key: grp.Key, Origin: grp.Origin, Start: grp.Start})
		}
		return &d.Groups[i]
	}
	for _, grp := range GroupBy(beforeGs, k) {
		add(grp).Before = grp.Count
	}
	for _, grp := range GroupBy(afterGs, k) {
		gd := add(grp)
		gd.After, gd.Origin, gd.Start, gd.MaxWaitSeconds = grp.Count, grp.Origin, grp.Start, grp.MaxWaitSeconds
		if !d.IDsKnown {
			continue
		}
		for _, m := range grp.Members {
			g := &afterGs[m]
			if old[g.ID] {
				continue
			}
			gd.New++
			gd.NewIDs = addExample(gd.NewIDs, g.ID)
			if opt.MinAge > 0 && g.WaitSeconds >= opt.MinAge {
				gd.NewOld++
			}
		}
		d.New += gd.New
		d.NewOld += gd.NewOld
	}
	if d.IDsKnown {
		for id := range old {
			if !current[id] {
				d.Gone++
			}
		}
	}
	for i := range d.Groups {
		d.Groups[i].Delta = d.Groups[i].After - d.Groups[i].Before
	}
	slices.SortStableFunc(d.Groups, func(a, b GroupDiff) int {
		return cmp.Or(cmp.Compare(b.Delta, a.Delta), cmp.Compare(b.After, a.After), cmp.Compare(a.Key, b.Key))
	})
	return d
}
