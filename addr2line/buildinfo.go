package addr2line

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
)

// buildInfoMagic starts the build information blob (see debug/buildinfo).
var buildInfoMagic = []byte("\xff Go buildinf:")

// goVersion returns the Go version recorded in the executable's build
// information, or "" if there is none. It decodes only the inline-string
// format that Go 1.18 and later write, from the .go.buildinfo section or,
// when section headers are missing, from the start of a writable segment.
func goVersion(f *elf.File, im *image) string {
	const maxScan = 64 << 10
	if s := f.Section(".go.buildinfo"); s != nil && s.Type == elf.SHT_PROGBITS {
		if b, err := im.bytes(s.Addr, min(s.Size, maxScan)); err == nil {
			return parseBuildInfo(b)
		}
	}
	for _, s := range im.segs {
		if !s.writable {
			continue
		}
		data, err := s.load()
		if err != nil {
			continue
		}
		data = data[:min(len(data), maxScan)]
		for off := 0; off+len(buildInfoMagic) <= len(data); off += 16 {
			if bytes.HasPrefix(data[off:], buildInfoMagic) {
				return parseBuildInfo(data[off:])
			}
		}
	}
	return ""
}

func parseBuildInfo(b []byte) string {
	const (
		headerSize      = 32
		flagsVersionInl = 0x2
	)
	if len(b) < headerSize || !bytes.HasPrefix(b, buildInfoMagic) || b[15]&flagsVersionInl == 0 {
		return ""
	}
	b = b[headerSize:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return ""
	}
	return string(b[k : k+int(n)])
}
