#!/bin/sh
# fuzz_safetensors.sh: ~15 s of libFuzzer (ASan + UBSan) on the safetensors header parser,
# seeded with tests/fuzz/corpus/safetensors. One TAP line.
set -u
cd "$(dirname "$0")/../.."
D=build-fuzz
mkdir -p "$D/corpus-safetensors"
if ! command -v clang >/dev/null 2>&1; then
	echo "not ok 1 - fuzz safetensors: clang not installed (scripts/deps.sh installs it)"
	exit 1
fi
if ! clang -std=c17 -g -O1 -D_GNU_SOURCE -Isrc -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined tests/fuzz/safetensors_fuzz.c src/engine/safetensors.c src/base/err.c \
	$(pkg-config --cflags --libs jansson) -o "$D/safetensors_fuzz" 2>"$D/safetensors_build.log"; then
	echo "not ok 1 - fuzz safetensors: build failed: $(head -3 "$D/safetensors_build.log")"
	exit 1
fi
if "$D/safetensors_fuzz" -max_total_time=15 -max_len=4096 -timeout=10 "$D/corpus-safetensors" \
	tests/fuzz/corpus/safetensors >"$D/safetensors_fuzz.log" 2>&1; then
	runs=$(grep -o 'Done [0-9]* runs' "$D/safetensors_fuzz.log" | tail -1)
	echo "ok 1 - fuzz safetensors header parser 15 s, no crash ($runs)"
else
	echo "not ok 1 - fuzz safetensors: $(grep -m1 -E 'ERROR|runtime error' "$D/safetensors_fuzz.log")"
	tail -30 "$D/safetensors_fuzz.log"
	exit 1
fi
