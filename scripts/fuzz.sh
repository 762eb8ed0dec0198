#!/bin/sh
# fuzz.sh [SECONDS]: build every libFuzzer target in tests/fuzz/ with clang
# (fuzzer + address + undefined sanitizers) into build-fuzz/ and run each for
# SECONDS (default 30 in all, split evenly) on a copy of its seed corpus.
# Exit status is nonzero when a target finds a crash (artifacts in build-fuzz/).
set -u
cd "$(dirname "$0")/.."
TOTAL=${1:-30}
B=build-fuzz
mkdir -p $B
targets=$(ls tests/fuzz/*_fuzz.c 2>/dev/null)
count=$(echo "$targets" | wc -w)
[ "$count" -gt 0 ] || { echo "no fuzz targets"; exit 0; }
per=$((TOTAL / count)); [ $per -ge 1 ] || per=1
status=0
for t in $targets; do
	name=$(basename "$t" .c)
	corpus=tests/fuzz/corpus/${name%_fuzz}
	# The reader and what it needs from base/; nothing else is linked.
	if ! clang -std=c17 -g -O1 -D_GNU_SOURCE -Isrc -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -o $B/$name "$t" \
		src/engine/gguf.c src/engine/tensor.c src/base/err.c -lm; then
		echo "$name: build failed"; status=1; continue
	fi
	work=$B/corpus-$name
	mkdir -p "$work"
	cp "$corpus"/* "$work"/ 2>/dev/null
	if $B/$name -max_total_time=$per -max_len=65536 -rss_limit_mb=1024 -artifact_prefix=$B/$name- \
		"$work" >$B/$name.log 2>&1; then
		echo "$name: ok ($(grep -o 'cov: [0-9]*' $B/$name.log | tail -1), ${per}s)"
	else
		echo "$name: FAILED"; tail -30 $B/$name.log; status=1
	fi
done
exit $status
