package mi

import (
	"errors"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name, line string
		want       Record
	}{
		{"prompt", "(gdb) ", Record{Token: -1, Kind: KindPrompt}},
		{"done with token", "12^done", Record{Token: 12, Kind: KindResult, Class: "done"}},
		{"exit", "7^exit", Record{Token: 7, Kind: KindResult, Class: "exit"}},
		{"running without token", "^running", Record{Token: -1, Kind: KindResult, Class: "running"}},
		{"connected", "3^connected", Record{Token: 3, Kind: KindResult, Class: "connected"}},
		{"error with code", `9^error,msg="Undefined MI command: x",code="undefined-command"`, Record{Token: 9, Kind: KindResult, Class: "error",
			Results: Tuple{{"msg", "Undefined MI command: x"}, {"code", "undefined-command"}}}},
		{"console stream with escapes", `~"1 \"spin\" stopped.\n"`, Record{Token: -1, Kind: KindConsole, Text: "1 \"spin\" stopped.\n"}},
		{"log stream with tab and octal", `&"30\t../wait4.c: \303\251\n"`, Record{Token: -1, Kind: KindLog, Text: "30\t../wait4.c: \xc3\xa9\n"}},
		{"target stream", `@"hello\\world"`, Record{Token: -1, Kind: KindTarget, Text: `hello\world`}},
		{"notify", `=thread-created,id="2",group-id="i1"`, Record{Token: -1, Kind: KindNotify, Class: "thread-created",
			Results: Tuple{{"id", "2"}, {"group-id", "i1"}}}},
		{"stopped with tuple and lists", `*stopped,reason="signal-received",frame={addr="0x1",func="??",args=[]},thread-id="1",stopped-threads=["1"],core="1"`,
			Record{Token: -1, Kind: KindExec, Class: "stopped", Results: Tuple{
				{"reason", "signal-received"},
				{"frame", Tuple{{"addr", "0x1"}, {"func", "??"}, {"args", List{}}}},
				{"thread-id", "1"}, {"stopped-threads", List{"1"}}, {"core", "1"}}}},
		{"list of results", `^done,stack=[frame={level="0"},frame={level="1"}]`, Record{Token: -1, Kind: KindResult, Class: "done",
			Results: Tuple{{"stack", List{Tuple{{"frame", Tuple{{"level", "0"}}}}, Tuple{{"frame", Tuple{{"level", "1"}}}}}}}}},
		{"empty tuple", `^done,value={}`, Record{Token: -1, Kind: KindResult, Class: "done", Results: Tuple{{"value", Tuple{}}}}},
		{"crlf", "^done\r", Record{Token: -1, Kind: KindResult, Class: "done"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(c.line)
			if err != nil {
				t.Fatalf("Parse(%q): %v", c.line, err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Parse(%q)\n got %#v\nwant %#v", c.line, got, c.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	for _, line := range []string{
		"", "warning: Error disabling address space randomization: Operation not permitted",
		"Reading symbols from x...", "12", "^", "^done,", "^done,a", `^done,a="x`, `^done,a={b="c"`,
		`^done,a=[1]`, `~"unterminated`, `~"x" trailing`, `5~"x"`, `^done,a="\`, `^done,=x`,
		"99999999999999999999999^done", strings.Repeat("{", 10),
		"^done,a=" + strings.Repeat("[", 200) + strings.Repeat("]", 200),
	} {
		if rec, err := Parse(line); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", line, rec)
		} else if !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q): error %v does not wrap ErrSyntax", line, err)
		}
	}
}

// TestParseGDB13Transcript parses a whole session captured from GDB 13.1 (attach in
// non-stop mode, memory reads, interrupt, thread info, errors, continue, detach, exit).
func TestParseGDB13Transcript(t *testing.T) {
	byToken := map[int64]Record{}
	stopped := 0
	for _, rec := range transcript(t, "testdata/gdb13-attach.mi") {
		if rec.Kind == KindResult && rec.Token >= 0 {
			byToken[rec.Token] = rec
		}
		if rec.Kind == KindExec && rec.Class == "stopped" {
			stopped++
			if rec.Results.Tuple("frame").String("addr") == "" {
				t.Errorf("*stopped without a frame address: %+v", rec)
			}
		}
	}
	if stopped != 5 {
		t.Errorf("%d *stopped records, want 5 (one per thread)", stopped)
	}
	mem := byToken[5].Results.List("memory")
	if len(mem) != 1 || mem[0].(Tuple).String("contents") != "00c0a4c0533b00000b00000000000000" {
		t.Errorf("memory read answer: %+v", byToken[5])
	}
	if got := byToken[8]; got.Class != "error" || got.Results.String("msg") != "Unable to read memory." {
		t.Errorf("bad read answer: %+v", got)
	}
	threads := byToken[7].Results.List("threads")
	if len(threads) != 5 || threads[0].(Tuple).String("state") != "stopped" || threads[0].(Tuple).String("target-id") == "" {
		t.Errorf("thread-info answer: %+v", byToken[7])
	}
	if byToken[12].Class != "exit" || byToken[10].Class != "running" {
		t.Errorf("continue/exit answers: %+v %+v", byToken[10], byToken[12])
	}
}

func TestQuoteRoundTrip(t *testing.T) {
	for _, s := range []string{"plain", "/proc/1/exe", "a b", `q"uote\back`, "new\nline", "", "-dash"} {
		q := Quote(s)
		rec, err := Parse(`~` + q)
		if q[0] != '"' {
			rec, err = Parse(`~"` + q + `"`)
		}
		if err != nil || rec.Text != s {
			t.Errorf("Quote(%q) = %s, parses back to %q (%v)", s, q, rec.Text, err)
		}
	}
}

// FuzzParse: no input panics, hangs or yields a record that breaks its own invariants.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/gdb13-attach.mi", "testdata/gdb13-core.mi"} {
		if b, err := os.ReadFile(name); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				f.Add(line)
			}
		}
	}
	f.Add(`^done,l=[` + strings.Repeat(`{},`, 5000) + `{}]`)
	f.Fuzz(func(t *testing.T, line string) {
		// What Parse may allocate: a small multiple of the line (a 3-byte "{}," is a
		// boxed Tuple and a List element), never more.
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		rec, err := Parse(line)
		runtime.ReadMemStats(&after)
		if used, limit := after.TotalAlloc-before.TotalAlloc, uint64(1<<20+64*len(line)); used > limit {
			t.Fatalf("Parse of %d bytes allocated %d (limit %d)", len(line), used, limit)
		}
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v does not wrap ErrSyntax", err)
			}
			return
		}
		switch rec.Kind {
		case KindConsole, KindTarget, KindLog:
			if rec.Token != -1 || rec.Class != "" || len(rec.Text) > len(line) {
				t.Fatalf("bad stream record %+v", rec)
			}
		case KindResult, KindExec, KindStatus, KindNotify:
			if rec.Class == "" {
				t.Fatalf("record without a class: %+v", rec)
			}
		case KindPrompt:
		default:
			t.Fatalf("unknown kind %q", rec.Kind)
		}
	})
}

// TestParseValueBudget: a record of more values than any GDB answer holds is refused
// (the MaxLine line of "{}," that decoded to a gigabyte), one of as many as a large
// -thread-info answer is parsed.
func TestParseValueBudget(t *testing.T) {
	if _, err := Parse(`^done,l=[` + strings.Repeat(`{},`, maxValues) + `{}]`); !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "values in one record") {
		t.Errorf("Parse of %d values: %v, want a refusal", maxValues+1, err)
	}
	thread := `{id="1",target-id="Thread 0x7f LWP 12",name="svc",frame={level="0",addr="0x401000",func="main.f",args=[]},state="stopped",core="1"}`
	many := `^done,threads=[` + strings.Repeat(thread+",", 9999) + thread + `]`
	rec, err := Parse(many)
	if err != nil || len(rec.Results.List("threads")) != 10000 {
		t.Errorf("Parse of 10,000 threads: %v", err)
	}
}

// transcript parses every line of a captured GDB session, failing the test on any that
// does not parse.
func transcript(t *testing.T, name string) []Record {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var out []Record
	for line := range strings.SplitSeq(strings.TrimRight(string(b), "\n"), "\n") {
		rec, err := Parse(line)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		out = append(out, rec)
	}
	return out
}
