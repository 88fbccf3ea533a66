package leaks

import (
	"debug/elf"
	"encoding/binary"
	"strings"
	"unicode/utf8"
)

// maxTypeName bounds a runtime type name read from the executable.
const maxTypeName = 256

// tflagExtraStar is abi.TFlagExtraStar: the stored name has a '*' the type's name lacks
// (the name is shared with the pointer type's).
const tflagExtraStar = 1 << 1

// typeNamer names runtime types (abi.Type, runtime._type) from the executable file: a
// type's descriptor and its name are read-only data, the same in the file as in the
// process, and absent from most cores. It reads only what it is asked for.
type typeNamer struct {
	exe    string
	f      *elf.File // opened on first use
	opened bool
	l      *layout
	bias   uint64
	cache  map[uint64]string
	// gcTypes caches gcType by run-time address (nil: not usable).
	gcTypes map[uint64]*gcType
}

func newTypeNamer(exe string, l *layout, bias uint64) *typeNamer {
	return &typeNamer{exe: exe, l: l, bias: bias, cache: map[uint64]string{}, gcTypes: map[uint64]*gcType{}}
}

func (n *typeNamer) close() {
	if n != nil && n.f != nil {
		n.f.Close()
	}
}

// read reads the file bytes at link-time address addr; nil when they are not in the file.
func (n *typeNamer) read(addr uint64, size int) []byte {
	for _, p := range n.f.Progs {
		if p.Type != elf.PT_LOAD || addr < p.Vaddr || addr-p.Vaddr >= p.Filesz {
			continue
		}
		size = int(min(uint64(size), p.Filesz-(addr-p.Vaddr)))
		b := make([]byte, size)
		if _, err := p.ReadAt(b, int64(addr-p.Vaddr)); err != nil {
			return nil
		}
		return b
	}
	return nil
}

// name is the name of the type whose descriptor is at run-time address typ ("*main.T",
// "int"), or "" when it cannot be read. The name is the target's: control characters are
// escaped.
func (n *typeNamer) name(typ uint64) string {
	if !n.l.typeStr.ok() || !n.l.typeTflag.ok() || n.l.types == 0 || n.open() == nil || typ < n.bias {
		return ""
	}
	if s, ok := n.cache[typ]; ok {
		return s
	}
	s := n.read1(typ - n.bias)
	if len(n.cache) < 1<<16 {
		n.cache[typ] = s
	}
	return s
}

func (n *typeNamer) read1(addr uint64) string {
	l := n.l
	hdr := n.read(addr, max(l.typeStr.off+l.typeStr.size, l.typeTflag.off+l.typeTflag.size))
	if hdr == nil {
		return ""
	}
	off := int32(word(hdr, l.typeStr))
	tflag := word(hdr, l.typeTflag)
	if off <= 0 {
		return ""
	}
	b := n.read(l.types+uint64(off), 1+binary.MaxVarintLen64+maxTypeName)
	if len(b) < 2 {
		return ""
	}
	size, k := binary.Uvarint(b[1:])
	if k <= 0 || size == 0 || size > maxTypeName || 1+k+int(size) > len(b) {
		return ""
	}
	s := string(b[1+k : 1+k+int(size)])
	if tflag&tflagExtraStar != 0 {
		s = strings.TrimPrefix(s, "*")
	}
	return sanitize(s)
}

// sanitize escapes what a terminal must not see in a name from the target.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError || r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			b.WriteString("?")
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
