package leaks

import "fmt"

// gcProgBits runs a garbage collector program (runtime/mbitmap.go runGCProg: the form in
// which the linker records which words of .data and .bss hold pointers, moduledata's
// gcdata and gcbss) and returns one bit per word, at most max words.
func gcProgBits(prog []byte, max int) ([]bool, error) {
	var out []bool
	p := 0
	next := func() (byte, error) {
		if p >= len(prog) {
			return 0, fmt.Errorf("GC program runs past its %d bytes", len(prog))
		}
		p++
		return prog[p-1], nil
	}
	varint := func() (int, error) {
		v := 0
		for off := 0; ; off += 7 {
			x, err := next()
			if err != nil {
				return 0, err
			}
			if off > 56 {
				return 0, fmt.Errorf("GC program varint too long")
			}
			v |= int(x&0x7f) << off
			if x&0x80 == 0 {
				return v, nil
			}
		}
	}
	for {
		inst, err := next()
		if err != nil {
			return nil, err
		}
		n := int(inst & 0x7f)
		if inst&0x80 == 0 {
			if n == 0 {
				return out, nil // the end
			}
			for i := 0; i < n; i += 8 {
				b, err := next()
				if err != nil {
					return nil, err
				}
				for j := 0; j < 8 && i+j < n; j++ {
					out = append(out, b>>j&1 != 0)
				}
			}
		} else {
			if n == 0 {
				if n, err = varint(); err != nil {
					return nil, err
				}
			}
			c, err := varint()
			if err != nil {
				return nil, err
			}
			if n <= 0 || n > len(out) || c < 0 || len(out)+n*c > max {
				return nil, fmt.Errorf("GC program repeats %d bits %d times after %d bits (at most %d)", n, c, len(out), max)
			}
			start := len(out) - n
			for i := 0; i < n*c; i++ {
				out = append(out, out[start+i])
			}
		}
		if len(out) > max {
			return nil, fmt.Errorf("GC program makes more than %d bits", max)
		}
	}
}
