package gstruct

import (
	"encoding/binary"
	"testing"

	"github.com/gorigin-dev/gorigin/snapshot"
)

func FuzzDecode(f *testing.F) {
	r := testRuntime(labelsSlice)
	waiting := make([]byte, r.GSize())
	binary.LittleEndian.PutUint32(waiting[r.l.status.off:], 0x1004) // _Gscanwaiting
	waiting[r.l.waitreason.off] = 2
	f.Add(waiting)
	f.Add([]byte{})
	f.Add(make([]byte, 7))
	bad := make([]byte, r.GSize())
	for i := range bad {
		bad[i] = 0xff
	}
	f.Add(bad)
	statuses := map[string]bool{}
	for _, s := range snapshot.Statuses {
		statuses[string(s)] = true
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		g := r.Decode(0x1000, raw)
		if !statuses[g.Status] {
			t.Fatalf("status %q is not one of snapshot.Statuses", g.Status)
		}
		if g.WaitReason != "" && g.Status != "waiting" {
			t.Fatalf("wait reason %q on a %s goroutine", g.WaitReason, g.Status)
		}
		if g.StatusCode&r.l.gscan != 0 {
			t.Fatalf("status code %#x keeps the scan bit", g.StatusCode)
		}
	})
}

// FuzzReadLabels feeds garbage label memory: one segment of fuzzed bytes at a fixed
// address, with g.labels pointing into it. Seeds are real label sets of both forms.
func FuzzReadLabels(f *testing.F) {
	const base = 0x10000
	seed := func(form labelForm, build func(m *fakeMem) uint64) {
		m := newFakeMem()
		ptr := build(m)
		// Flatten the fake memory into one segment starting at base.
		end := uint64(base)
		for _, s := range m.segs {
			end = max(end, s.addr+uint64(len(s.data)))
		}
		flat := make([]byte, end-base)
		for _, s := range m.segs {
			copy(flat[s.addr-base:], s.data)
		}
		f.Add(flat, ptr-base, form == labelsMap)
	}
	seed(labelsSlice, func(m *fakeMem) uint64 { return m.labelSlice("tenant", "a", "job", "x") })
	seed(labelsMap, func(m *fakeMem) uint64 {
		ovf := m.alloc(m.bucket([]mapSlot{{0x80, "k8", "v8"}}, 0))
		return m.labelMapVar(2, 0, 0, m.alloc(m.bucket([]mapSlot{{0x80, "tenant", "a"}}, ovf)), 0)
	})
	f.Add([]byte{}, uint64(0), false)
	f.Fuzz(func(t *testing.T, mem []byte, off uint64, mapForm bool) {
		form := labelsSlice
		if mapForm {
			form = labelsMap
		}
		r := testRuntime(form)
		m := &fakeMem{segs: []fakeSeg{{base, mem}}}
		gs := []*G{{LabelsPtr: base + off}, {LabelsPtr: base}, {LabelsPtr: ^uint64(0)}}
		_ = r.ReadLabels(m, gs) // must not panic or allocate without bound
		for _, g := range gs {
			if len(g.Labels) > maxLabels {
				t.Fatalf("%d labels", len(g.Labels))
			}
		}
	})
}
