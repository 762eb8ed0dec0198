#!/bin/sh
# image.sh: speed of the image engine against the machine's own FMA peak, measured in the same run.
#
#   1. bench/flops.c: FMA throughput (AVX-512 and AVX2, 1 and 2 threads), before and after the
#      engine runs; the higher of the two is the reference.
#   2. the raw GEMM kernel on an SD-sized convolution (320 x 2880 x 4096), and the attention
#      kernel alone at SD's first level (4096 queries and keys, 320 channels, 8 heads).
#   3. the default model (models/shapes-diffusion.safetensors, 32x32): seconds per step (two UNet
#      passes with guidance) and per image (25 steps), 1 and 2 threads.
#   4. a random-weight UNet with Stable Diffusion 1.5's shapes on a 64x64x4 latent (512x512
#      image): one step, 1 and 2 threads, GFLOP/s of the conv and attention kernels.
#      SD_LEVELS=1..4 (default 4 = the whole UNet) keeps fewer levels on a small machine.
# Prints "ratio" columns = achieved GFLOP/s / measured peak at the same thread count.
set -u
cd "$(dirname "$0")/.."
B=${BUILD:-build}
SD_LEVELS=${SD_LEVELS:-4}
mkdir -p "$B/bench"
make -s BUILD="$B" "$B/libatelier.a" >/dev/null || exit 1
cc -O2 -pthread bench/flops.c -o "$B/bench/flops" || exit 1
cc -std=c17 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -pthread -Isrc -o "$B/bench/image_bench" bench/image_bench.c \
	"$B/libatelier.a" $(pkg-config --libs jansson libpng) -lm -lpthread || exit 1
R=$(mktemp)
trap 'rm -f "$R"' EXIT
"$B/bench/flops" 1 >>"$R"

val() { awk -v k="$1" '$1==k {v=$2} END {print v}' "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "n/a" }'; }

G=$(mktemp)
for t in 1 2; do
	"$B/bench/image_bench" gemm $t >"$G"
	echo "gemm $t $(val gemm_gflops "$G")" >>"$R"
	"$B/bench/image_bench" attn $t >"$G"
	echo "attn $t $(val attn_gflops "$G")" >>"$R"
done
S=$(mktemp)
for t in 1 2; do
	if [ -f models/shapes-diffusion.safetensors ]; then
		"$B/bench/image_bench" shapes models/shapes-diffusion.safetensors $t >"$S.$t"
	fi
done
"$B/bench/image_bench" sd 2 "$SD_LEVELS" >"$S.sd"
"$B/bench/flops" 1 >>"$R"

peak() { awk -v t="$1" '$1=="flops" && $2=="avx512f" && $3==t && $4>m {m=$4} END {print m+0}' "$R"; }
peak2() { awk -v t="$1" '$1=="flops" && $2=="avx2+fma" && $3==t && $4>m {m=$4} END {print m+0}' "$R"; }
P1=$(peak 1); P2=$(peak 2)
[ "$P1" = 0 ] && P1=$(peak2 1) && P2=$(peak2 2)
echo "image engine bench ($(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo "measured FMA peak (reference): 1 thread $P1 GFLOP/s, 2 threads $P2 GFLOP/s (best of two runs)"
for t in 1 2; do
	g=$(awk -v t="$t" '$1=="gemm" && $2==t {print $3}' "$R")
	p=$([ $t = 1 ] && echo "$P1" || echo "$P2")
	printf 'gemm kernel 320x2880x4096, %d thread(s): %6.1f GFLOP/s  %s of peak\n' "$t" "$g" "$(ratio "$g" "$p")"
	a=$(awk -v t="$t" '$1=="attn" && $2==t {print $3}' "$R")
	printf 'attention kernel (SD level 0: 4096 tokens, 320 ch, 8 heads), %d thread(s): %6.1f GFLOP/s  %s of peak\n' "$t" "$a" "$(ratio "$a" "$p")"
done
for t in 1 2; do
	[ -f "$S.$t" ] || continue
	p=$([ $t = 1 ] && echo "$P1" || echo "$P2")
	printf 'shapes-diffusion 32x32, %d thread(s): %.4f s/step (2 UNet passes), %.3f s/image (25 steps); %.1f GFLOP/s (%s of peak); conv %.1f (%s), attention %.1f (%s)\n' \
		"$t" "$(val step_s "$S.$t")" "$(val image_s "$S.$t")" "$(val gflops "$S.$t")" "$(ratio "$(val gflops "$S.$t")" "$p")" \
		"$(val conv_gflops "$S.$t")" "$(ratio "$(val conv_gflops "$S.$t")" "$p")" \
		"$(val attn_gflops "$S.$t")" "$(ratio "$(val attn_gflops "$S.$t")" "$p")"
done
grep -E '^(params|activations_MB|flops_per_step)' "$S.sd" | awk '!seen[$1]++' | sed 's/^/sd1.5-shaped UNet: /'
awk -v p1="$P1" -v p2="$P2" -v lv="$SD_LEVELS" '
	$1=="threads" {t=$2}
	$1=="step_s" {s[t]=$2}
	$1=="gflops" {g[t]=$2}
	$1=="conv_gflops" {c[t]=$2}
	$1=="attn_gflops" {a[t]=$2}
	$1=="time_share" {ts[t]=$0}
	END {
		for (t = 1; t <= 2; t++) {
			if (!(t in s)) continue
			p = (t == 1) ? p1 : p2
			printf "sd1.5-shaped UNet 64x64 latent (%d of 4 levels), %d thread(s): %.2f s/step; %.1f GFLOP/s (%.0f%% of peak); conv %.1f (%.0f%%), attention %.1f (%.0f%%); %s\n",
				lv, t, s[t], g[t], 100 * g[t] / p, c[t], 100 * c[t] / p, a[t], 100 * a[t] / p, ts[t]
		}
	}' "$S.sd"
rm -f "$G" "$S" "$S.1" "$S.2" "$S.sd"
