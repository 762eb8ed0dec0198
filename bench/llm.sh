#!/bin/sh
# llm.sh: text generation speed against this machine's memory bandwidth.
# Builds random-weight GGUF files with TinyLlama-1.1B's shapes (dim 2048,
# 22 layers, 32 heads, 4 KV heads, ffn 5632, vocab 32000) in Q8_0 and Q4_0
# (kept in bench/out/ between runs), measures read bandwidth with
# bench/membw.c, and runs `atelier bench` on 1 and 2 threads. Prints the
# achieved generation bandwidth (weight bytes per token x tokens/s) as a
# ratio of the measured read bandwidth; the target is 60% on 2 threads.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=bench/out
PROMPT=${PROMPT:-64}
GEN=${GEN:-16}
mkdir -p $OUT
make -s BUILD=$BUILD all >/dev/null
cc -O2 -pthread -o $OUT/membw bench/membw.c
for t in Q8_0 Q4_0; do
	f=$OUT/tinyllama-shape-$t.gguf
	[ -f $f ] || /usr/bin/python3 tools/make_test_models.py --shape tinyllama $t $f
done
bw1=$($OUT/membw 1 | sed -n 's/.*read \([0-9.]*\) GB.*/\1/p')
bw2=$($OUT/membw 2 | sed -n 's/.*read \([0-9.]*\) GB.*/\1/p')
echo "memory read bandwidth: 1 thread $bw1 GB/s, 2 threads $bw2 GB/s"
for t in Q8_0 Q4_0; do
	for th in 1 2; do
		r=$($BUILD/atelier bench $OUT/tinyllama-shape-$t.gguf --threads $th --prompt $PROMPT --gen $GEN)
		pp=$(echo "$r" | sed -n 's/^pp .*: \([0-9.]*\) tok.*/\1/p')
		tg=$(echo "$r" | sed -n 's/^tg .*: \([0-9.]*\) tok.*/\1/p')
		gb=$(echo "$r" | sed -n 's/.*generation reads \([0-9.]*\) GB.*/\1/p')
		rss=$(echo "$r" | sed -n 's/^peak RSS: \(.*\)/\1/p')
		bw=$([ $th = 1 ] && echo $bw1 || echo $bw2)
		ratio=$(awk "BEGIN{printf \"%.0f\", 100*$gb/$bw}")
		echo "$t threads $th: prompt $pp tok/s, generation $tg tok/s ($gb GB/s = $ratio% of $bw GB/s), peak RSS $rss"
	done
done
