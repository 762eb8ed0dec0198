#!/bin/sh
# sampler.sh: microseconds per sampler_sample() draw, this tree against BASE
# (default 36b1ffd, the last revision before the sampler's fast path), both
# in one binary and one run (bench/sampler_bench.c), on the tiny model's
# logits and on synthetic peaked ones, and this tree on its general road
# (ATELIER_SAMPLER_SORTED=1; the top-p rows: fast against general). Counts
# the draws in which the old and new differ
# (rounding: the old sampler weighs tokens by libm's expf, this one by exp1).
#   BASE=rev STEPS=256 ROUNDS=21 sh bench/sampler.sh
set -eu
cd "$(dirname "$0")/.."
B=${BUILD:-build}
BASE=${BASE:-36b1ffd}
mkdir -p "$B/bench"
make -s BUILD="$B" "$B/libatelier.a" >/dev/null
git show "$BASE:src/engine/llm/sampler.c" >"$B/bench/sampler_old.c"
CF="-std=c17 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE -fno-strict-aliasing -pthread -Isrc" # as the Makefile
ren=""
for f in sampler_new sampler_free sampler_accept sampler_reset sampler_sample sampler_params_default; do
	ren="$ren -D$f=old_$f"
done
cc $CF $ren -c -o "$B/bench/sampler_old.o" "$B/bench/sampler_old.c"
cc $CF -o "$B/bench/sampler_bench" bench/sampler_bench.c "$B/bench/sampler_old.o" "$B/libatelier.a" \
	$(pkg-config --libs jansson libpng libpcre2-8 2>/dev/null) -lm -lpthread
"$B/bench/sampler_bench" models/atelier-tiny.gguf "${STEPS:-256}" "${ROUNDS:-21}"
