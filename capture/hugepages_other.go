//go:build !linux

package capture

// adviseHugePages does nothing where there is no madvise(MADV_HUGEPAGE).
func adviseHugePages(b []byte) {}

// allocBuf returns n zeroed bytes from the Go heap; free does nothing, and there is no
// drop (see the Linux allocBuf).
func allocBuf(n int) (b []byte, free func(), drop func(lo, hi int)) {
	return make([]byte, n), func() {}, nil
}
