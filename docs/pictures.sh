#!/usr/bin/env bash
# Regenerates the README's pictures from the demo target. Run from anywhere, as root or with
# CAP_SYS_PTRACE (`gorigin demo` attaches to the demo process it starts). Needs Go, Graphviz
# (dot), curl and Debian's chromium. Writes docs/flamegraph.png, docs/spawntree.svg and
# docs/html-report.png.
set -euo pipefail

cd "$(dirname "$0")/.."
out=docs
tmp=$(mktemp -d /tmp/gorigin-demo.XXXXXX)
pprof_pid=
cleanup() {
	[[ -n $pprof_pid ]] && kill "$pprof_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# shot URL FILE WIDTH HEIGHT: a screenshot in headless Chromium, flags as in report/html_test.go.
shot() {
	chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
		--hide-scrollbars --virtual-time-budget=5000 --window-size="$3,$4" \
		--screenshot="$2" "$1" 2>/dev/null
}

go build -o "$tmp/gorigin" .

# Flame graph: pprof's own web UI on the ancestry profile (every goroutine is a sample whose
# stack is its own frames, its go statement, its parent's go statement, … up to main).
"$tmp/gorigin" demo --stacks --format pprof -o "$tmp/demo.pb.gz"
port=$((20000 + RANDOM % 20000))
go tool pprof -http="127.0.0.1:$port" -no_browser "$tmp/demo.pb.gz" 2>"$tmp/pprof.log" &
pprof_pid=$!
for _ in $(seq 100); do
	curl -fs -o /dev/null "http://127.0.0.1:$port/ui/flamegraph" && break
	sleep 0.1
done
shot "http://127.0.0.1:$port/ui/flamegraph" "$out/flamegraph.png" 1280 320

# Spawn tree: the dot format rendered by Graphviz.
"$tmp/gorigin" demo --format dot | dot -Tsvg -o "$out/spawntree.svg"

# HTML report: the one-file page in headless Chromium, with the largest group open.
"$tmp/gorigin" demo --stacks --format html -o "$tmp/demo.html"
shot "file://$tmp/demo.html#open=g0" "$out/html-report.png" 1280 900

for f in "$out/flamegraph.png" "$out/spawntree.svg" "$out/html-report.png"; do
	size=$(stat -c %s "$f")
	((size < 300 * 1024)) || { echo "$f is $size bytes: keep README pictures under 300 KB" >&2; exit 1; }
	echo "$f  $size bytes"
done
