//go:build !linux

package capture

// adviseHugePages does nothing where there is no madvise(MADV_HUGEPAGE).
func adviseHugePages(b []byte) {}

// allocBuf returns n zeroed bytes from the Go heap; free does nothing.
func allocBuf(n int) (b []byte, free func()) { return make([]byte, n), func() {} }
