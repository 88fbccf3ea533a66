package gdbmi

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/internal/mi"
)

// DefaultTimeout bounds one MI command when the options give no Timeout (gorigin's cli
// passes $GORIGIN_GDB_TIMEOUT): an attach to a process with a large binary is slow. A GDB
// that does not answer in time is killed, which detaches it from the target.
const DefaultTimeout = 30 * time.Second

// StartupTimeout is the least time the commands that start a session (GDB's own start,
// the attach, opening a core) get, whatever the command timeout: on a loaded machine GDB
// takes seconds to start.
const StartupTimeout = 30 * time.Second

// maxRead is the largest single -data-read-memory-bytes request: its answer is twice as
// many hex digits on one line.
const maxRead = 4 << 20

// readBatch reads every region with -data-read-memory-bytes, one request per region (or
// per 4 MiB of it). Regions GDB cannot read are listed in the *dbg.ReadError; a dead or
// silent GDB fails the whole batch (mi.ErrDead, mi.ErrTimeout: "read " + what).
func readBatch(c *mi.Client, timeout time.Duration, what string, regions []dbg.Region) error {
	var rerr *dbg.ReadError
	for i, r := range regions {
		for off := 0; off < len(r.Buf); off += maxRead {
			n := min(maxRead, len(r.Buf)-off)
			if err := readMemory(c, timeout, r.Addr+uint64(off), r.Buf[off:off+n]); err != nil {
				if errors.Is(err, mi.ErrDead) || errors.Is(err, mi.ErrTimeout) {
					return fmt.Errorf("read %s: %w", what, err)
				}
				if rerr == nil {
					rerr = &dbg.ReadError{Err: err}
				}
				rerr.Failed = append(rerr.Failed, i)
				break
			}
		}
	}
	if rerr != nil {
		return rerr
	}
	return nil
}

// readMemory fills buf from addr with one -data-read-memory-bytes request, checking that
// GDB's answer covers exactly what was asked.
func readMemory(c *mi.Client, timeout time.Duration, addr uint64, buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	rec, _, err := c.Run(context.Background(), timeout, fmt.Sprintf("-data-read-memory-bytes 0x%x %d", addr, len(buf)))
	if err != nil {
		return err
	}
	filled := 0
	for _, v := range rec.Results.List("memory") {
		blk, ok := v.(mi.Tuple)
		if !ok {
			continue
		}
		begin, err1 := strconv.ParseUint(blk.String("begin"), 0, 64)
		contents := blk.String("contents")
		if err1 != nil || begin < addr || begin-addr > uint64(len(buf)) {
			return fmt.Errorf("gdb answered a read of 0x%x with a block at %q", addr, blk.String("begin"))
		}
		dst := buf[begin-addr:]
		if len(contents)/2 > len(dst) {
			return fmt.Errorf("gdb answered a read of %d bytes at 0x%x with %d", len(buf), addr, len(contents)/2)
		}
		n, err := hex.Decode(dst, []byte(contents))
		if err != nil {
			return fmt.Errorf("gdb answered a read of 0x%x with bad hex: %w", addr, err)
		}
		filled += n
	}
	if filled < len(buf) {
		return fmt.Errorf("gdb read %d of %d bytes at 0x%x", filled, len(buf), addr)
	}
	return nil
}

var lwpRE = regexp.MustCompile(`LWP (\d+)`)

// threads lists the threads GDB knows (-thread-info), with the PC of each stopped one.
func threads(c *mi.Client, timeout time.Duration, what string) ([]dbg.Thread, error) {
	rec, _, err := c.Run(context.Background(), timeout, "-thread-info")
	if err != nil {
		return nil, fmt.Errorf("threads of %s: %w", what, err)
	}
	var out []dbg.Thread
	for _, v := range rec.Results.List("threads") {
		th, ok := v.(mi.Tuple)
		if !ok {
			continue
		}
		m := lwpRE.FindStringSubmatch(th.String("target-id"))
		if m == nil {
			continue
		}
		tid, _ := strconv.Atoi(m[1])
		t := dbg.Thread{TID: tid}
		if th.String("state") == "stopped" {
			t.PC, _ = strconv.ParseUint(th.Tuple("frame").String("addr"), 0, 64)
		}
		out = append(out, t)
	}
	return out, nil
}
