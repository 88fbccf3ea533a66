package addr2line

import "github.com/gorigin-dev/gorigin/internal/goversion"

// wrapperFuncIDs is the value of the runtime's FuncIDWrapper (internal/abi, and
// funcID_wrapper in runtime/symtab.go before Go 1.21) by Go release: the list of
// special function ids grows, so the number moves. Read from each release's source.
var wrapperFuncIDs = map[goversion.Version]uint8{
	20: 21, 21: 21,
	22: 22, 23: 22, 24: 22,
	25: 23, 26: 23, 27: 23,
}

// wrapperFuncID returns FuncIDWrapper for a "go1.N..." version, or false when unknown.
func wrapperFuncID(goVersion string) (uint8, bool) {
	id, ok := wrapperFuncIDs[goversion.Parse(goVersion)]
	return id, ok
}

func (t *Table) isWrapper(funcID uint8) bool {
	id, ok := wrapperFuncID(t.goVersion)
	return ok && funcID == id
}
