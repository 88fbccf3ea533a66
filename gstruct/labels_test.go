package gstruct

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/gorigin-dev/gorigin/dbg"
)

func TestReadLabels(t *testing.T) {
	const (
		full        = 0x80 // any tophash ≥ minTopHash marks a full slot
		emptyOne    = 1
		evacuatedX  = 2
		sameSizeBit = 8
	)
	tests := []struct {
		name    string
		form    labelForm
		build   func(m *fakeMem) uint64 // returns g.labels
		want    map[string]string       // nil: no labels
		batches int                     // ReadBatch calls
	}{
		{
			name:    "slice form (Go 1.24+)",
			form:    labelsSlice,
			build:   func(m *fakeMem) uint64 { return m.labelSlice("job", "x", "tenant", "a") },
			want:    map[string]string{"tenant": "a", "job": "x"},
			batches: 3,
		},
		{
			name:    "slice form with an empty value",
			form:    labelsSlice,
			build:   func(m *fakeMem) uint64 { return m.labelSlice("empty", "", "k", "v") },
			want:    map[string]string{"empty": "", "k": "v"},
			batches: 3,
		},
		{
			name:    "slice form, empty set",
			form:    labelsSlice,
			build:   func(m *fakeMem) uint64 { return m.labelSlice() },
			want:    nil,
			batches: 1,
		},
		{
			name: "map form, one bucket with empty slots",
			form: labelsMap,
			build: func(m *fakeMem) uint64 {
				b := m.alloc(m.bucket([]mapSlot{{full, "tenant", "a"}, {emptyOne, "gone", "?"}, {full, "job", "x"}}, 0))
				return m.labelMapVar(2, 0, 0, b, 0)
			},
			want:    map[string]string{"tenant": "a", "job": "x"},
			batches: 4,
		},
		{
			name: "map form, overflow buckets",
			form: labelsMap,
			build: func(m *fakeMem) uint64 {
				var slots []mapSlot
				want := map[string]string{}
				for i := 0; i < bucketCount; i++ {
					slots = append(slots, mapSlot{full, fmt.Sprint("k", i), fmt.Sprint("v", i)})
					want[fmt.Sprint("k", i)] = fmt.Sprint("v", i)
				}
				ovf2 := m.alloc(m.bucket([]mapSlot{{full, "k9", "v9"}}, 0))
				ovf1 := m.alloc(m.bucket([]mapSlot{{full, "k8", "v8"}}, ovf2))
				b := m.alloc(m.bucket(slots, ovf1))
				return m.labelMapVar(10, 0, 0, b, 0)
			},
			want: map[string]string{"k0": "v0", "k1": "v1", "k2": "v2", "k3": "v3", "k4": "v4",
				"k5": "v5", "k6": "v6", "k7": "v7", "k8": "v8", "k9": "v9"},
			batches: 6, // var, hmap, buckets, 2 levels of overflow, strings
		},
		{
			name: "map form, growing: entries still in the old buckets count, evacuated ones once",
			form: labelsMap,
			build: func(m *fakeMem) uint64 {
				old := m.alloc(m.bucket([]mapSlot{{evacuatedX, "a", "1"}, {full, "b", "2"}, {full, "c", "3"}}, 0))
				nb := append(m.bucket([]mapSlot{{full, "a", "1"}}, 0), m.bucket([]mapSlot{{emptyOne, "", ""}, {full, "d", "4"}}, 0)...)
				return m.labelMapVar(4, 0, 1, m.alloc(nb), old)
			},
			want:    map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"},
			batches: 4,
		},
		{
			name: "map form, same-size growth",
			form: labelsMap,
			build: func(m *fakeMem) uint64 {
				old := m.alloc(append(m.bucket([]mapSlot{{full, "a", "1"}}, 0), m.bucket([]mapSlot{{full, "b", "2"}}, 0)...))
				nb := m.alloc(append(m.bucket(nil, 0), m.bucket(nil, 0)...))
				return m.labelMapVar(2, sameSizeBit, 1, nb, old)
			},
			want:    map[string]string{"a": "1", "b": "2"},
			batches: 4,
		},
		{
			name:    "map form, nil map",
			form:    labelsMap,
			build:   func(m *fakeMem) uint64 { return m.alloc(words(0)) },
			want:    nil,
			batches: 1,
		},
		{
			name: "map form, garbage count is not believed",
			form: labelsMap,
			build: func(m *fakeMem) uint64 {
				b := m.alloc(m.bucket([]mapSlot{{full, "k", "v"}}, 0))
				return m.labelMapVar(1<<40, 0, 0, b, 0)
			},
			want:    nil,
			batches: 2,
		},
		{
			name: "map form, overflow cycle ends",
			form: labelsMap,
			build: func(m *fakeMem) uint64 {
				b := m.alloc(m.bucket([]mapSlot{{full, "k", "v"}}, 0))
				copy(m.segs[len(m.segs)-1].data[classicMapLayout(8).bucketOverflow:], words(b)) // points to itself
				return m.labelMapVar(1, 0, 0, b, 0)
			},
			want: nil, // too many labels for its count; given up
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newFakeMem()
			r := testRuntime(tc.form)
			g := &G{LabelsPtr: tc.build(m)}
			if err := r.ReadLabels(m, []*G{g}); err != nil {
				t.Fatalf("ReadLabels: %v", err)
			}
			if !reflect.DeepEqual(g.Labels, tc.want) {
				t.Errorf("labels = %v, want %v", g.Labels, tc.want)
			}
			if tc.batches != 0 && m.batches != tc.batches {
				t.Errorf("%d ReadBatch calls, want %d (one per level of indirection)", m.batches, tc.batches)
			}
		})
	}
}

func TestReadLabelsManyGoroutines(t *testing.T) {
	for _, form := range []labelForm{labelsSlice, labelsMap} {
		t.Run(fmt.Sprint("form ", form), func(t *testing.T) {
			m := newFakeMem()
			r := testRuntime(form)
			var gs []*G
			want := map[*G]map[string]string{}
			for i := 0; i < 50; i++ {
				k, v := fmt.Sprint("key", i), fmt.Sprint("value", i)
				var ptr uint64
				if form == labelsSlice {
					ptr = m.labelSlice(k, v)
				} else {
					ptr = m.labelMapVar(1, 0, 0, m.alloc(m.bucket([]mapSlot{{0x80, k, v}}, 0)), 0)
				}
				g := &G{LabelsPtr: ptr}
				gs = append(gs, g, &G{LabelsPtr: ptr}) // a child sharing its parent's set
				want[g] = map[string]string{k: v}
			}
			unreadable := &G{LabelsPtr: 0xdead0000}
			none := &G{}
			gs = append(gs, unreadable, none, nil)

			err := r.ReadLabels(m, gs)
			var re *dbg.ReadError
			if !errors.As(err, &re) {
				t.Errorf("ReadLabels = %v, want an error wrapping *dbg.ReadError", err)
			}
			for i := 0; i < 100; i += 2 {
				parent, child := gs[i], gs[i+1]
				if !reflect.DeepEqual(parent.Labels, want[parent]) || !reflect.DeepEqual(child.Labels, want[parent]) {
					t.Fatalf("goroutine %d: labels %v and %v, want %v", i, parent.Labels, child.Labels, want[parent])
				}
			}
			gs[0].Labels["mutated"] = "yes"
			if _, shared := gs[1].Labels["mutated"]; shared {
				t.Error("goroutines sharing a label set share one map")
			}
			if unreadable.Labels != nil || none.Labels != nil {
				t.Errorf("unreadable/none labels = %v, %v", unreadable.Labels, none.Labels)
			}
			wantBatches := 3
			if form == labelsMap {
				wantBatches = 4
			}
			if m.batches != wantBatches {
				t.Errorf("%d ReadBatch calls for 50 label sets, want %d", m.batches, wantBatches)
			}
		})
	}
}
