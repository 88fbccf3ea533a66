package dump

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// What github.com/google/pprof/profile allocates per message it decodes, in bytes: half
// as much again as measured with go1.26 on amd64 (TestProfileCostCoversParse checks the
// sum against the allocations of real parses). A struct and its pointer; per repeated
// element, the slices that hold it twice (the wire ids and the resolved pointers).
const (
	costSample   = 384
	costLocation = 288
	costLine     = 96
	costFunction = 192
	costMapping  = 288
	costString   = 48
	costLabel    = 144
	costElem     = 32 // one location id or value of a sample
)

// maxProfileCost bounds what decoding one debug=0 profile may allocate. A real goroutine
// profile has a sample per distinct stack and label set: 20,000 samples of labelled
// goroutines (3 MB uncompressed) cost 38 MB. One made of a million empty samples (2 MB
// uncompressed, a few KB gzipped) would cost 384 MB and is refused before it is decoded.
const maxProfileCost = 256 << 20

var errWire = errors.New("not protobuf")

// profileCost walks the top level of a protobuf-encoded profile (and one level into its
// samples and locations) and adds up what decoding it would allocate, without
// allocating: the budget is checked before profile.ParseData sees the data.
func profileCost(b []byte) (int64, error) {
	var cost int64
	err := fields(b, func(field int, wire int, v []byte) error {
		switch {
		case field == 2 && wire == 2: // sample
			cost += costSample
			return fields(v, func(field, wire int, v []byte) error {
				switch {
				case field == 3: // label
					cost += costLabel
				case wire == 2: // packed location ids or values
					cost += int64(len(v)) * costElem // at least one byte each
				default:
					cost += costElem
				}
				return nil
			})
		case field == 3 && wire == 2: // mapping
			cost += costMapping
		case field == 4 && wire == 2: // location
			cost += costLocation
			return fields(v, func(field, wire int, v []byte) error {
				if field == 4 {
					cost += costLine
				}
				return nil
			})
		case field == 5 && wire == 2: // function
			cost += costFunction
		case field == 6 && wire == 2: // string
			cost += costString + int64(len(v))
		}
		return nil
	})
	return cost, err
}

// fields calls f with each field of a protobuf message: its number, wire type and, for
// length-delimited fields, its bytes (nil for the others).
func fields(b []byte, f func(field, wire int, v []byte) error) error {
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return errWire
		}
		b = b[n:]
		field, wire := int(key>>3), int(key&7)
		var v []byte
		switch wire {
		case 0:
			_, n := binary.Uvarint(b)
			if n <= 0 {
				return errWire
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return errWire
			}
			b = b[8:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return errWire
			}
			v, b = b[n:n+int(l)], b[n+int(l):]
		case 5:
			if len(b) < 4 {
				return errWire
			}
			b = b[4:]
		default:
			return fmt.Errorf("%w: wire type %d", errWire, wire)
		}
		if err := f(field, wire, v); err != nil {
			return err
		}
	}
	return nil
}
