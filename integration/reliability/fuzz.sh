#!/usr/bin/env bash
# fuzz.sh N: run every Fuzz* target of the repository for N minutes each (default 1),
# one after another. A failure leaves its input in the owning package's
# testdata/fuzz/FuzzName/ directory: commit it as a regression seed (plain "go test" runs
# it from then on) and fix the parser. Exits 1 if any target failed.
#
#   integration/reliability/fuzz.sh 5          # every target, 5 minutes each
#   FUZZ_ONLY=FuzzNotes integration/reliability/fuzz.sh 30
set -uo pipefail
cd "$(dirname "$0")/../.."

minutes=${1:-1}
[[ $minutes =~ ^[0-9]+$ ]] && ((minutes > 0)) || { echo "usage: $0 MINUTES" >&2; exit 2; }

# "path/to/pkg FuzzName" for every fuzz target in a _test.go file.
mapfile -t targets < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . |
	sed -E 's#^\./(.*)/[^/]+_test\.go:[0-9]+:func (Fuzz[A-Za-z0-9_]*)\(.*#\1 \2#' | sort -u)
((${#targets[@]})) || { echo "no fuzz targets found" >&2; exit 1; }

failed=()
ran=0
for t in "${targets[@]}"; do
	pkg=${t% *} name=${t#* }
	[[ -n ${FUZZ_ONLY:-} && $name != "$FUZZ_ONLY" ]] && continue
	printf '\n==== %s ./%s (%d min) ====\n' "$name" "$pkg" "$minutes"
	ran=$((ran + 1))
	if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "${minutes}m" "./$pkg"; then
		failed+=("$name ./$pkg")
	fi
done
if ((${#failed[@]})); then
	printf '\nfailed (new inputs under each package'"'"'s testdata/fuzz/):\n' >&2
	printf '  %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "$ran of ${#targets[@]} fuzz targets ran ${minutes} min each without a failure"
