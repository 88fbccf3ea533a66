package dump

import "github.com/gorigin-dev/gorigin/snapshot"

// idSet finds goroutine ids that come twice in a dump. Ids are small, dense numbers, so a
// bitmap answers "seen before?" without hashing; the rare id far above the others goes to
// a map, and the index of a repeated id is looked up only when one comes (a crash
// traceback's goroutines running on other threads).
type idSet struct {
	bits  []uint64
	far   map[int64]bool
	where map[int64]int // id → index, built at the first repeat
}

// maxBitsPerID bounds the bitmap by the goroutines read so far: ids up to 64 times their
// count, plus a floor, use the bitmap (8 bytes per goroutine at most).
const (
	maxBitsPerID = 64
	minBits      = 1 << 20
)

// add records that the goroutine with id is at index n and says whether id was seen.
func (s *idSet) add(id int64, n int) bool {
	if s.where != nil {
		if _, ok := s.where[id]; ok {
			return true
		}
		s.where[id] = n
		return false
	}
	if id > 0 && id < int64(max(minBits, maxBitsPerID*(n+1))) {
		w := int(id / 64)
		if w >= len(s.bits) {
			grown := make([]uint64, max(w+1, 2*len(s.bits)))
			copy(grown, s.bits)
			s.bits = grown
		}
		bit := uint64(1) << (id % 64)
		if s.bits[w]&bit != 0 {
			return true
		}
		s.bits[w] |= bit
		return false
	}
	if s.far == nil {
		s.far = map[int64]bool{}
	}
	if s.far[id] {
		return true
	}
	s.far[id] = true
	return false
}

// index is where the earlier copy of a repeated id is among the n goroutines kept. From
// the first repeat on, every id goes through the map (add keeps it up to date).
func (s *idSet) index(id int64, n int, get func(int) *snapshot.Goroutine) int {
	if s.where == nil {
		s.where = make(map[int64]int, n)
		for i := 0; i < n; i++ {
			if g := get(i); g.ID != 0 {
				s.where[g.ID] = i
			}
		}
		s.bits, s.far = nil, nil
	}
	return s.where[id]
}
