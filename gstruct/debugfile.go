package gstruct

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gorigin-dev/gorigin/dbg"
)

// This file finds and checks a separate debug file: the DWARF and symbol table of an
// executable that ships stripped, kept aside by
//
//	objcopy --only-keep-debug app app.debug
//	objcopy --strip-all --add-gnu-debuglink=app.debug app
//
// It is looked for where GDB looks, and accepted only when it carries the executable's
// build ID (or, when neither has one, the CRC its .gnu_debuglink records).

// ErrDebugFile is returned (wrapped) by OpenWith when the debug file named by
// OpenOptions.DebugFile cannot be used: missing, not ELF, without DWARF, or of another
// build.
var ErrDebugFile = dbg.NewInputError("unusable debug file")

// OpenOptions are the choices OpenWith offers.
type OpenOptions struct {
	// DebugFile names the executable's separate debug file. Empty: use the executable's
	// own DWARF, else look for one next to it and under /usr/lib/debug.
	DebugFile string
}

// debugRoot is the global debug directory (GDB's debug-file-directory); tests move it.
var debugRoot = "/usr/lib/debug"

// Caps on what notes may claim.
const (
	maxNoteSection = 1 << 16
	maxBuildID     = 1 << 10
)

// buildIDs are the identities an ELF file carries: the GNU build ID note (from the
// external linker or -ldflags=-B) and the Go build ID note.
type buildIDs struct {
	gnu  []byte
	goID string
}

func (b buildIDs) String() string {
	var parts []string
	if b.gnu != nil {
		parts = append(parts, "GNU build ID "+hex.EncodeToString(b.gnu))
	}
	if b.goID != "" {
		parts = append(parts, fmt.Sprintf("Go build ID %q", b.goID))
	}
	if len(parts) == 0 {
		return "no build ID"
	}
	return strings.Join(parts, ", ")
}

// readBuildIDs reads the build ID notes of f. Unreadable or malformed notes are ignored.
func readBuildIDs(f *elf.File) buildIDs {
	var ids buildIDs
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOTE || s.Size == 0 || s.Size > maxNoteSection {
			continue
		}
		data, err := s.Data()
		if err != nil {
			continue
		}
		parseNotes(data, f.ByteOrder, func(name string, typ uint32, desc []byte) {
			switch {
			case name == "GNU" && typ == 3 && ids.gnu == nil: // NT_GNU_BUILD_ID
				ids.gnu = bytes.Clone(desc)
			case name == "Go" && typ == 4 && ids.goID == "": // cmd/link's ELF_NOTE_GOBUILDID_TAG
				ids.goID = string(desc)
			}
		})
	}
	return ids
}

// parseNotes calls fn for each well-formed note in data (Elf_Nhdr, name and descriptor
// padded to 4 bytes), stopping at the first malformed one.
func parseNotes(data []byte, order binary.ByteOrder, fn func(name string, typ uint32, desc []byte)) {
	for len(data) >= 12 {
		namesz, descsz, typ := uint64(order.Uint32(data)), uint64(order.Uint32(data[4:])), order.Uint32(data[8:])
		data = data[12:]
		nameEnd, descStart := namesz, (namesz+3)&^3
		if descStart > uint64(len(data)) || descsz > maxBuildID || descsz > uint64(len(data))-descStart {
			return
		}
		name := string(bytes.TrimRight(data[:nameEnd], "\x00"))
		fn(name, typ, data[descStart:descStart+descsz])
		next := descStart + (descsz+3)&^3
		if next > uint64(len(data)) {
			return
		}
		data = data[next:]
	}
}

// debugLink is the executable's .gnu_debuglink: the debug file's base name and the CRC-32
// of its contents.
type debugLink struct {
	name string
	crc  uint32
	ok   bool
}

func readDebugLink(f *elf.File) debugLink {
	s := f.Section(".gnu_debuglink")
	if s == nil || s.Size > maxNoteSection {
		return debugLink{}
	}
	data, err := s.Data()
	if err != nil {
		return debugLink{}
	}
	i := bytes.IndexByte(data, 0)
	if i <= 0 {
		return debugLink{}
	}
	crcAt := (i + 4) &^ 3
	if crcAt+4 > len(data) {
		return debugLink{}
	}
	name := string(data[:i])
	if strings.ContainsRune(name, '/') || name == "." || name == ".." {
		return debugLink{} // a base name, or nothing
	}
	return debugLink{name: name, crc: f.ByteOrder.Uint32(data[crcAt:]), ok: true}
}

// debugFileCandidates lists, in GDB's order, where the debug file of exe may be: by GNU
// build ID under the global debug directory, by the .gnu_debuglink name next to exe, in
// its .debug directory and under the global directory, then exe.debug and
// .debug/BASE.debug next to exe (the names objcopy users give it). A symbolic link (such
// as /proc/PID/exe) is looked through.
func debugFileCandidates(exe string, ids buildIDs, link debugLink) []string {
	var out []string
	if len(ids.gnu) >= 2 {
		h := hex.EncodeToString(ids.gnu)
		out = append(out, filepath.Join(debugRoot, ".build-id", h[:2], h[2:]+".debug"))
	}
	if p, err := filepath.EvalSymlinks(exe); err == nil {
		exe = p // /proc/PID/exe: look next to the file it names
	}
	dir := filepath.Dir(exe)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if link.ok {
		out = append(out, filepath.Join(dir, link.name), filepath.Join(dir, ".debug", link.name), filepath.Join(debugRoot, dir, link.name))
	}
	base := filepath.Base(exe)
	out = append(out, filepath.Join(dir, base+".debug"), filepath.Join(dir, ".debug", base+".debug"))
	seen := map[string]bool{}
	var uniq []string
	for _, p := range out {
		if !seen[p] && p != exe {
			seen[p] = true
			uniq = append(uniq, p)
		}
	}
	return uniq
}

// openDebugFile opens path and checks that it is the debug file of the executable f (at
// exe): the same GNU or Go build ID, or, when neither file has one, the CRC recorded in
// the executable's debug link. It must hold DWARF.
func openDebugFile(path, exe string, f *elf.File) (*elf.File, error) {
	d, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("debug file %s: %w: %w", path, err, ErrDebugFile)
	}
	if err := matchDebugFile(d, path, exe, f); err != nil {
		d.Close()
		return nil, err
	}
	if d.Section(".debug_info") == nil && d.Section(".zdebug_info") == nil {
		d.Close()
		return nil, dbg.Errorf(ErrDebugFile, "debug file %s has no DWARF (.debug_info): make it with objcopy --only-keep-debug from the unstripped build", path)
	}
	return d, nil
}

func matchDebugFile(d *elf.File, path, exe string, f *elf.File) error {
	mismatch := func(what string) error {
		return dbg.Errorf(ErrDebugFile, "debug file %s is not from the build of %s: %s: pass the debug file made from this very build (objcopy --only-keep-debug)", path, exe, what)
	}
	if d.Machine != f.Machine || d.Class != f.Class {
		return mismatch(fmt.Sprintf("it is for %v %v, the executable is %v %v", d.Class, d.Machine, f.Class, f.Machine))
	}
	want, got := readBuildIDs(f), readBuildIDs(d)
	compared := false
	if want.gnu != nil && got.gnu != nil {
		if !bytes.Equal(want.gnu, got.gnu) {
			return mismatch(fmt.Sprintf("its GNU build ID is %x, the executable's %x", got.gnu, want.gnu))
		}
		compared = true
	}
	if want.goID != "" && got.goID != "" {
		if want.goID != got.goID {
			return mismatch(fmt.Sprintf("its Go build ID is %q, the executable's %q", got.goID, want.goID))
		}
		compared = true
	}
	if compared {
		return nil
	}
	if link := readDebugLink(f); link.ok {
		crc, err := fileCRC(path)
		if err != nil {
			return fmt.Errorf("debug file %s: %w: %w", path, err, ErrDebugFile)
		}
		if crc != link.crc {
			return mismatch(fmt.Sprintf("its CRC-32 is %08x, the executable's .gnu_debuglink says %08x", crc, link.crc))
		}
		return nil
	}
	return mismatch(fmt.Sprintf("the debug file has %v and the executable %v, so nothing shows they belong together", got, want))
}

// fileCRC is the CRC-32 (IEEE) of a file's contents, as .gnu_debuglink records it.
func fileCRC(path string) (uint32, error) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, fh); err != nil {
		return 0, err
	}
	return h.Sum32(), nil
}

// findDebugFile returns the opened debug file of exe: opt.DebugFile (which must match),
// else the first candidate that exists and matches. found is "" and d nil when there is
// none; skipped lists candidates that exist but are not this build's.
func findDebugFile(exe string, f *elf.File, opt OpenOptions) (d *elf.File, found string, skipped []string, err error) {
	if opt.DebugFile != "" {
		d, err := openDebugFile(opt.DebugFile, exe, f)
		if err != nil {
			return nil, "", nil, err
		}
		return d, opt.DebugFile, nil, nil
	}
	for _, p := range debugFileCandidates(exe, readBuildIDs(f), readDebugLink(f)) {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		d, err := openDebugFile(p, exe, f)
		if err != nil {
			skipped = append(skipped, p)
			continue
		}
		return d, p, skipped, nil
	}
	return nil, "", skipped, nil
}
