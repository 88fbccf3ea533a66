package addr2line

import (
	"encoding/binary"
	"fmt"

	"github.com/gorigin-dev/gorigin/internal/goversion"
)

// moduleLayout gives the word positions of the runtime.moduledata fields
// that moved between Go releases. The fields up to etext have kept their
// places since Go 1.20: pcHeader 0, funcnametab 1, cutab 4, filetab 7,
// pctab 10, pclntable 13, ftab 16, findfunctab 19, minpc 20, maxpc 21,
// text 22, etext 23.
type moduleLayout struct {
	since  goversion.Version // first release with this layout
	etypes int
	rodata int
	gofunc int
}

const (
	mdFuncnametab = 1
	mdFtab        = 16
	mdMinpc       = 20
	mdMaxpc       = 21
	mdText        = 22
	mdEtext       = 23
	// data 26, edata 27, bss 28, ebss 29, gcdata 35, gcbss 36, types 37 since Go 1.20.
	mdData, mdEdata, mdBss, mdEbss, mdGcdata, mdGcbss, mdTypes = 26, 27, 28, 29, 35, 36, 37
)

// moduleLayouts lists the layouts, newest first.
var moduleLayouts = []moduleLayout{
	{since: 27, etypes: 39, rodata: 42, gofunc: 43}, // types, typedesclen, etypes, itaboffset, itabsize, rodata, gofunc
	{since: 20, etypes: 38, rodata: 39, gofunc: 40}, // types, etypes, rodata, gofunc
}

// layoutsFor orders the layouts so that the one matching goVersion comes
// first; the others follow, to be tried when the version is unknown or the
// preferred layout does not validate.
func layoutsFor(goVersion string) []moduleLayout {
	release := goversion.Parse(goVersion)
	out := make([]moduleLayout, 0, len(moduleLayouts))
	var rest []moduleLayout
	for _, l := range moduleLayouts {
		if release.Known() && release >= l.since && len(out) == 0 {
			out = append(out, l)
		} else {
			rest = append(rest, l)
		}
	}
	return append(out, rest...)
}

// moduledata holds the runtime.firstmoduledata fields addr2line needs.
type moduledata struct {
	addr    uint64
	text    uint64
	gofunc  uint64
	section Module
}

// Module is where runtime.firstmoduledata says the module's memory is: what the
// garbage collector reads for its roots and type names, found without a symbol table.
type Module struct {
	Data, Edata, Bss, Ebss uint64 // .data and .bss
	Gcdata, Gcbss          uint64 // their pointer maps: GC programs
	Types, Etypes          uint64 // the type descriptors
}

// findModuledata scans the writable segments for the moduledata whose
// first field points at the pclntab, as a stripped binary has no
// runtime.firstmoduledata symbol, and checks the candidate against the
// pclntab it describes.
func findModuledata(im *image, order binary.ByteOrder, tab *pclntab, pclntabAddr uint64, goVersion string) (moduledata, error) {
	ps := tab.ptrSize
	layouts := layoutsFor(goVersion)
	nwords := 0
	for _, l := range layouts {
		nwords = max(nwords, l.gofunc+1)
	}
	var lastErr error
	for _, s := range im.segs {
		if !s.writable {
			continue
		}
		data, err := s.load()
		if err != nil {
			return moduledata{}, err
		}
		for off := (ps - int(s.addr%uint64(ps))) % ps; off+nwords*ps <= len(data); off += ps {
			w := func(i int) uint64 {
				if ps == 4 {
					return uint64(order.Uint32(data[off+4*i:]))
				}
				return order.Uint64(data[off+8*i:])
			}
			if w(0) != pclntabAddr {
				continue
			}
			md, err := checkModuledata(im, tab, pclntabAddr, w, layouts)
			if err == nil {
				md.addr = s.addr + uint64(off)
				return md, nil
			}
			lastErr = fmt.Errorf("candidate at %#x: %w", s.addr+uint64(off), err)
		}
	}
	if lastErr != nil {
		return moduledata{}, fmt.Errorf("no valid runtime moduledata found (%w): the executable may be corrupt", lastErr)
	}
	return moduledata{}, fmt.Errorf("no runtime moduledata points at the pclntab at %#x: the executable may be corrupt or not a Go program", pclntabAddr)
}

func checkModuledata(im *image, tab *pclntab, pclntabAddr uint64, w func(int) uint64, layouts []moduleLayout) (moduledata, error) {
	for i, off := range tab.offs {
		if got, want := w(mdFuncnametab+3*i), pclntabAddr+off; got != want {
			return moduledata{}, fmt.Errorf("table %d at %#x, pclntab says %#x", i, got, want)
		}
	}
	if got, want := w(mdFtab), pclntabAddr+tab.offs[4]; got != want || w(mdFtab+1) != uint64(tab.nfunc+1) {
		return moduledata{}, fmt.Errorf("ftab %#x[%d], pclntab says %#x[%d]", got, w(mdFtab+1), want, tab.nfunc+1)
	}
	text := w(mdText)
	first, _ := tab.ftab(0)
	end, _ := tab.ftab(tab.nfunc)
	if w(mdMinpc) != text+uint64(first) || w(mdMaxpc) != text+uint64(end) || w(mdEtext) < text {
		return moduledata{}, fmt.Errorf("text %#x-%#x does not match minpc %#x, maxpc %#x", text, w(mdEtext), w(mdMinpc), w(mdMaxpc))
	}
	for _, l := range layouts {
		gofunc := w(l.gofunc)
		if s := im.segmentAt(gofunc); gofunc >= w(l.rodata) && s != nil && !s.writable {
			m := Module{Data: w(mdData), Edata: w(mdEdata), Bss: w(mdBss), Ebss: w(mdEbss),
				Gcdata: w(mdGcdata), Gcbss: w(mdGcbss), Types: w(mdTypes), Etypes: w(l.etypes)}
			return moduledata{text: text, gofunc: gofunc, section: m}, nil
		}
	}
	return moduledata{}, fmt.Errorf("no known moduledata layout has a valid gofunc (Go 1.20 to 1.27 are supported)")
}
