package reliability

// Issue 17's crafted inputs, run through the real binary: each is refused with exit
// status 2 and a message that says what is wrong, in memory a small multiple of what a
// real input of its size needs (peak RSS from the child's rusage; the bounds are wide,
// they catch the gigabytes these inputs took before, not noise). The inputs are made
// here, in code; none is committed.

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const mb = 1 << 20

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runMeasured runs gorigin as runGorigin does, under GNU time, and sets the run's MaxRSS
// to gorigin's own peak RSS. (The rusage runGorigin reads is no good for that: Go starts
// a child with the parent's memory shared until exec, and the kernel counts the parent's
// high-water mark, this test process's, as the child's.) Without /usr/bin/time MaxRSS is
// -1 and checkRSS says it could not check.
func runMeasured(t *testing.T, args ...string) *run {
	t.Helper()
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		r := runGorigin(t, nil, nil, args...)
		r.MaxRSS = -1
		return r
	}
	out := filepath.Join(t.TempDir(), "rss")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // as runGorigin
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/time", append([]string{"-f", "%M", "-o", out, needGorigin(t)}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	m := &run{Args: args, Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Elapsed: time.Since(start), MaxRSS: -1}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run gorigin under /usr/bin/time: %v", err)
	}
	m.Code = cmd.ProcessState.ExitCode()
	if b, err := os.ReadFile(out); err == nil {
		// GNU time writes "Command exited with non-zero status N" first when N != 0.
		lines := strings.Fields(string(b))
		if kb, err := strconv.ParseInt(lines[len(lines)-1], 10, 64); err == nil {
			m.MaxRSS = kb * 1024
		}
	}
	return m
}

// checkRSS requires the run's peak RSS to be at most limit.
func checkRSS(t *testing.T, r *run, limit int64) {
	t.Helper()
	if r.MaxRSS < 0 {
		t.Logf("gorigin's peak RSS not measured: no /usr/bin/time (apt-get install time)")
		return
	}
	t.Logf("peak RSS %d MB", r.MaxRSS/mb)
	if r.MaxRSS > limit {
		t.Errorf("peak RSS %d MB, more than %d MB", r.MaxRSS/mb, limit/mb)
	}
}

// emptySamplesProfile is a gzipped debug=0 goroutine profile of n samples with nothing in
// them: 2 bytes each before gzip, a 32 KB file for 16 million (2.7 GB before).
func emptySamplesProfile(n int) []byte {
	pb := []byte{0x0a, 4, 0x08, 1, 0x10, 2} // sample_type {type: 1, unit: 2}
	for _, s := range []string{"", "goroutine", "count"} {
		pb = append(append(pb, 6<<3|2, byte(len(s))), s...)
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(pb)
	empty := bytes.Repeat([]byte{2<<3 | 2, 0}, 1<<16)
	for i := 0; i < n; i += 1 << 16 {
		zw.Write(empty)
	}
	zw.Close()
	return gz.Bytes()
}

// coreFile writes an x86-64 ELF core: one PT_LOAD of a page, and notes behind nNote
// PT_NOTE headers that all point at the same bytes.
func coreFile(notes []byte, nNote int) []byte {
	le := binary.LittleEndian
	var b bytes.Buffer
	hdr := elf.Header64{Type: uint16(elf.ET_CORE), Machine: uint16(elf.EM_X86_64), Version: 1,
		Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: uint16(nNote + 1)}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS], hdr.Ident[elf.EI_DATA], hdr.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1
	binary.Write(&b, le, hdr)
	noteOff := uint64(64 + 56*(nNote+1))
	binary.Write(&b, le, elf.Prog64{Type: uint32(elf.PT_LOAD), Off: noteOff + uint64(len(notes)), Vaddr: 0x600000, Filesz: 4096, Memsz: 4096, Flags: uint32(elf.PF_R)})
	for range nNote {
		binary.Write(&b, le, elf.Prog64{Type: uint32(elf.PT_NOTE), Off: noteOff, Filesz: uint64(len(notes))})
	}
	b.Write(notes)
	b.Write(make([]byte, 4096))
	return b.Bytes()
}

// elfNote encodes one note named CORE.
func elfNote(typ uint32, desc []byte) []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, 5)
	b = le.AppendUint32(b, uint32(len(desc)))
	b = le.AppendUint32(b, typ)
	b = append(b, "CORE\x00\x00\x00\x00"...)
	b = append(b, desc...)
	return append(b, make([]byte, (4-len(desc)%4)%4)...)
}

// TestCraftedInputsStayBounded: every reader refuses its crafted input with exit status
// 2, a message, and bounded memory.
func TestCraftedInputsStayBounded(t *testing.T) {
	t.Parallel()
	needGorigin(t)
	t.Run("a debug=0 profile of empty samples", func(t *testing.T) {
		gz := emptySamplesProfile(16 << 20)
		path := writeFile(t, "goroutine.pb.gz", gz)
		r := runMeasured(t, "dump", path)
		checkRun(t, r, 2, []string{fmt.Sprintf("a goroutine profile of %d bytes", len(gz)), "crafted or damaged", "too large"})
		// It reads the 32 MB it decompresses to, and no more.
		checkRSS(t, r, 400*mb)
	})
	t.Run("a core of duplicate note headers", func(t *testing.T) {
		var notes []byte
		desc := make([]byte, 336) // an amd64 NT_PRSTATUS
		for len(notes) < 700_000 {
			notes = append(notes, elfNote(1, desc)...)
		}
		path := writeFile(t, "core", coreFile(notes, 4000))
		r := runMeasured(t, "core", path, "--exe", "/bin/true")
		checkRun(t, r, 2, []string{path, "note segments", "overlap", "not an ELF core file"})
		checkRSS(t, r, 200*mb)
	})
	t.Run("a JSON snapshot of tiny goroutines", func(t *testing.T) {
		var doc bytes.Buffer
		doc.WriteString(`{"schema":"gorigin.snapshot/v1","source":{"kind":"dump"},"goroutines":[`)
		doc.WriteString(strings.Repeat(`{"status":"idle"},`, 4_000_000)) // 72 MB, 544 MB as Goroutines
		doc.WriteString(`{"status":"idle"}]}`)
		path := writeFile(t, "snapshot.json", doc.Bytes())
		r := runMeasured(t, "dump", path)
		checkRun(t, r, 2, []string{"decode snapshot", "more than 256 MB", "too large"})
		// The budget is 256 MB of goroutines; the garbage collector's headroom doubles it.
		checkRSS(t, r, 800*mb)
	})
	t.Run("an endless traceback over http", func(t *testing.T) {
		url := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
			for i := 1; ; i++ {
				if _, err := fmt.Fprintf(w, "goroutine %d [chan receive]:\nmain.f%d()\n\t/src/f%d.go:%d +0x1d\n\n", i, i, i, i); err != nil {
					return
				}
			}
		})
		r := runMeasured(t, "dump", url)
		checkRun(t, r, 2, []string{"more than 256 MB", "endless", "too large"})
		checkRSS(t, r, 800*mb)
	})
	t.Run("a dump of header-like noise", func(t *testing.T) {
		// 64 MB of lines of "goroutine 1 [" words, which took 47 s (a quadratic scan),
		// next to plain text of the same size (0.19 s): the time is compared with that
		// baseline, measured in the same run, with a wide margin (the machine may be
		// loaded). The exact bound is TestHeaderScanIsLinear's, in package dump.
		line := strings.Repeat("goroutine 1 [", 5000) + ":\n"
		plainLine := strings.Repeat("x", len(line)-2) + ":\n"
		n := 64 * mb / len(line)
		crafted := writeFile(t, "crafted.txt", []byte(strings.Repeat(line, n)))
		plain := writeFile(t, "plain.txt", []byte(strings.Repeat(plainLine, n)))
		rp := runMeasured(t, "dump", plain)
		checkRun(t, rp, 2, []string{"no goroutine dump found"})
		rc := runMeasured(t, "dump", crafted)
		checkRun(t, rc, 2, []string{"no goroutine dump found"})
		checkRSS(t, rc, 100*mb)
		t.Logf("plain %v, crafted %v", rp.Elapsed, rc.Elapsed)
		if rc.Elapsed > 20*rp.Elapsed+10*time.Second {
			t.Errorf("the crafted dump took %v, plain text of the same size %v: is the header scan quadratic again?", rc.Elapsed, rp.Elapsed)
		}
	})
}
