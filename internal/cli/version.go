package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/gorigin-dev/gorigin/gstruct"
)

// version is "gorigin version": gorigin's module version (and VCS revision when the build
// recorded one), the Go it was built with, and the Go versions whose runtime layouts are
// built in (used for executables without DWARF).
func version() string {
	v, rev, dirty := "(devel)", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "gorigin %s", v)
	if rev != "" {
		fmt.Fprintf(&b, " (%.12s", rev)
		if dirty {
			b.WriteString(", modified")
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, "\nbuilt with %s for %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	byArch := map[string][]string{}
	var archs []string
	for _, l := range gstruct.BuiltinLayouts() {
		if _, ok := byArch[l.Arch]; !ok {
			archs = append(archs, l.Arch)
		}
		byArch[l.Arch] = append(byArch[l.Arch], fmt.Sprintf("go1.%d", l.Minor))
	}
	slices.Sort(archs)
	b.WriteString("built-in runtime layouts (for executables without DWARF):\n")
	for _, a := range archs {
		fmt.Fprintf(&b, "  %s: %s\n", a, strings.Join(byArch[a], " "))
	}
	b.WriteString("executables with DWARF: their own layout is read from it\n")
	return b.String()
}
