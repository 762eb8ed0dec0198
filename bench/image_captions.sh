#!/bin/sh
# bench/image_captions.sh: how well the default image model follows its captions.
#
# For the 20 held-out captions of tools/make_shapes.py (never seen in training), `atelier draw`
# makes an image (25 DDIM steps, guidance 3, seed = index); tools/image_ref.py analyse finds the
# dominant non-background colour (nearest palette colour) and where its mass sits (quadrant or
# centre), independently of the engine, and prints the share that agrees with the caption.
# Target (issue 8): at least 80%. The committed model is under-trained and scores far below it
# (see models/shapes-diffusion.md); this script measures it, it does not run in `make check`.
set -u
cd "$(dirname "$0")/.."
B=${BUILD:-build}
PY=/usr/bin/python3
BIN=$B/atelier
MODEL=${MODEL:-models/shapes-diffusion.safetensors}
make -s all >/dev/null
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
OUT=$T/tap
: >"$OUT"
tap() { echo "$1" >>"$OUT"; }

if [ -f "$MODEL" ]; then
	$PY tools/make_shapes.py --heldout >"$T/captions.tsv"
	i=0
	pngs=""
	start=$(date +%s)
	while IFS="$(printf '\t')" read -r colour pos caption; do
		i=$((i + 1))
		if ! "$BIN" draw "$MODEL" -p "$caption" --steps 25 --guidance ${GUIDANCE:-3} --seed "$i" --threads 2 \
			-o "$T/cap$i.png" 2>>"$T/draw.err"; then
			tap "not ok - draw failed for '$caption': $(tail -1 "$T/draw.err")"
		fi
		pngs="$pngs $T/cap$i.png"
	done <"$T/captions.tsv"
	end=$(date +%s)
	echo "# $i images in $((end - start)) s"
	$PY tools/image_ref.py analyse $pngs --captions "$T/captions.tsv" >"$T/analyse.out" 2>&1
	grep '^#' "$T/analyse.out"
	grep -E '^(ok|not ok)' "$T/analyse.out" | sed 's/^\(ok\|not ok\) [0-9]* - /\1 - /' >>"$OUT"
	grep -qE '^(ok|not ok)' "$T/analyse.out" || tap "not ok - caption analysis failed: $(tail -1 "$T/analyse.out")"
	mkdir -p tests/artifacts && cp "$T/cap1.png" "$T/cap5.png" tests/artifacts/ 2>/dev/null
fi


cat "$OUT"
