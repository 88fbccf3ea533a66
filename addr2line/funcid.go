package addr2line

import (
	"strconv"
	"strings"
)

// wrapperFuncIDs is the value of the runtime's FuncIDWrapper (internal/abi, and
// funcID_wrapper in runtime/symtab.go before Go 1.21) by Go minor version: the list of
// special function ids grows, so the number moves. Read from each release's source.
var wrapperFuncIDs = map[int]uint8{
	20: 21, 21: 21,
	22: 22, 23: 22, 24: 22,
	25: 23, 26: 23, 27: 23,
}

// wrapperFuncID returns FuncIDWrapper for a "go1.N..." version, or false when unknown.
func wrapperFuncID(goVersion string) (uint8, bool) {
	v, ok := strings.CutPrefix(goVersion, "go1.")
	if !ok {
		return 0, false
	}
	if i := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		v = v[:i]
	}
	minor, err := strconv.Atoi(v)
	if err != nil {
		return 0, false
	}
	id, ok := wrapperFuncIDs[minor]
	return id, ok
}

func (t *Table) isWrapper(funcID uint8) bool {
	id, ok := wrapperFuncID(t.goVersion)
	return ok && funcID == id
}
