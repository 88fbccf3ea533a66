package gstruct

// BuiltinLayout names one runtime layout built into gorigin: the one it uses for an
// executable of that architecture and Go minor version that has no DWARF.
type BuiltinLayout struct {
	Arch      string // GOARCH
	Minor     int    // Go 1.Minor
	Toolchain string // the release whose DWARF it was read from ("go1.26.8")
}

// BuiltinLayouts lists the built-in runtime layouts in the order of the table.
func BuiltinLayouts() []BuiltinLayout {
	out := make([]BuiltinLayout, len(generatedLayouts))
	for i, v := range generatedLayouts {
		out[i] = BuiltinLayout{Arch: v.arch, Minor: int(v.release), Toolchain: v.toolchain}
	}
	return out
}
