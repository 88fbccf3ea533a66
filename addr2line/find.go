package addr2line

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
)

// findPclntab locates the pclntab: by its section name, else by the
// runtime.pclntab/runtime.epclntab symbols, else by its magic number in a
// loaded segment. It returns the table's address and bytes.
func findPclntab(f *elf.File, im *image) (uint64, []byte, error) {
	// A PIE built by Go 1.24 or older keeps it in relro, as .data.rel.ro.gopclntab.
	for _, name := range []string{".gopclntab", ".data.rel.ro.gopclntab"} {
		if s := f.Section(name); s != nil && s.Type != elf.SHT_NOBITS {
			b, err := im.bytes(s.Addr, s.Size)
			if err != nil {
				return 0, nil, fmt.Errorf("%s section: %w", name, err)
			}
			return s.Addr, b, nil
		}
	}
	if syms, err := f.Symbols(); err == nil {
		var start, end uint64
		for _, s := range syms {
			switch s.Name {
			case "runtime.pclntab":
				start = s.Value
			case "runtime.epclntab":
				end = s.Value
			}
		}
		if start != 0 && end > start {
			b, err := im.bytes(start, end-start)
			if err != nil {
				return 0, nil, fmt.Errorf("runtime.pclntab symbol: %w", err)
			}
			return start, b, nil
		}
	}
	return scanPclntab(f.ByteOrder, im)
}

// scanPclntab looks for a plausible pcHeader in the read-only segments,
// then in the writable ones (relro, in a PIE built by an older Go).
func scanPclntab(order binary.ByteOrder, im *image) (uint64, []byte, error) {
	var oldErr error
	var segs []*segment
	for _, s := range im.segs {
		if !s.writable {
			segs = append(segs, s)
		}
	}
	for _, s := range im.segs {
		if s.writable {
			segs = append(segs, s)
		}
	}
	for _, s := range segs {
		data, err := s.load()
		if err != nil {
			return 0, nil, err
		}
		for off := (4 - int(s.addr%4)) % 4; off+8 <= len(data); off += 4 {
			p := data[off:]
			if p[0]&p[1]&p[2]&p[3] < 0xf0 || p[4] != 0 || p[5] != 0 {
				continue // cheap filter: every magic is 0xfffffffX
			}
			_, err := parsePclntab(p, order)
			switch {
			case err == nil:
				return s.addr + uint64(off), p, nil
			case errors.Is(err, errOldPclntab) && oldErr == nil:
				oldErr = err
			}
		}
	}
	if oldErr != nil {
		return 0, nil, oldErr
	}
	return 0, nil, errors.New("no Go pclntab found (no .gopclntab section, no runtime.pclntab symbol, no pclntab header in a loaded segment): is this a Go executable?")
}
