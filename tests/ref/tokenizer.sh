#!/bin/sh
# tokenizer.sh: the C tokenizer against independent implementations, and the
# tokenizer and generation of the committed default model. Prints TAP.
#
#  1. npm ci in tests/ref/tok: llama3-tokenizer-js (Llama 3 vocabulary and
#     merges) and llama-tokenizer-js (Llama 2 vocabulary) pinned by the lock file.
#  2. extract.mjs + make_gguf.py turn their vocabularies into tokenizer-only GGUF
#     files (tokenizer.ggml.* keys, tools/gguf_writer.py), cached in $BUILD/tokref.
#  3. tokdrv (C, through engine/gguf.h and engine/llm/tokenizer.h) encodes every
#     case of corpus.json; ref.mjs compares the ids with the JavaScript
#     tokenizers' and checks the streamed decode gives the text back.
#  4. models/atelier-tiny.gguf: C ids equal tools/train_llm.py's Python BPE
#     (the tokenizer the model was trained with), text round-trips, and
#     `atelier run` generates valid UTF-8.
set -u
cd "$(dirname "$0")/../.."
B=${BUILD:-build}
W=$B/tokref
PY=/usr/bin/python3
mkdir -p "$W"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; [ $# -gt 1 ] && echo "# $2"; return 0; }

if ! (cd tests/ref/tok && npm ci --silent --no-audit --no-fund >/dev/null 2>&1); then
	notok "npm ci in tests/ref/tok"
	exit 1
fi
# an ASan build's library (check.sh with ASAN=1) needs the same flags to link
san=""
if nm "$B/libatelier.a" 2>/dev/null | grep -q __asan_init; then
	san="-fsanitize=address,undefined -fno-omit-frame-pointer"
fi
if ! cc -std=c17 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE $san -Isrc -o "$W/tokdrv" tests/ref/tok/tokdrv.c \
	"$B/libatelier.a" $(pkg-config --libs libpcre2-8) -lm -lpthread 2>"$W/cc.log"; then
	notok "build tokdrv" "$(head -5 "$W/cc.log")"
	exit 1
fi
lock=tests/ref/tok/package-lock.json
if [ ! -s "$W/llama3.gguf" ] || [ "$lock" -nt "$W/llama3.gguf" ] || [ tests/ref/tok/make_gguf.py -nt "$W/llama3.gguf" ] ||
	[ tests/ref/tok/extract.mjs -nt "$W/llama3.gguf" ]; then
	rm -f "$W/llama2.gguf" "$W/llama3.gguf"
	if ! (cd tests/ref/tok && node extract.mjs "../../../$W") ||
		! $PY tests/ref/tok/make_gguf.py "$W/llama2.json" "$W/llama2.gguf" ||
		! $PY tests/ref/tok/make_gguf.py "$W/llama3.json" "$W/llama3.gguf"; then
		notok "reference vocabularies to GGUF"
		exit 1
	fi
fi
(cd tests/ref/tok && node ref.mjs "../../../$W" $((n + 1))) || notok "ref.mjs ran to the end"
[ -f "$W/last-tap" ] && n=$(cat "$W/last-tap")

# ---- the committed default model
M=models/atelier-tiny.gguf
if [ ! -s "$M" ]; then
	notok "$M exists"
	exit 1
fi
# One text per line; a literal \n stands for a newline.
texts="$W/tiny-texts.txt"
cat >"$texts" <<'TEXTS'
It is a truth universally acknowledged, that a single man must be in want of a wife.
<|im_start|>user\nHow do you do, Miss Bennet?<|im_end|>\n<|im_start|>assistant\n
  Whitespace		runs,   numbers 1234 and café 😀 日本 \n\n\n end
Mr. Darcy's letter -- 'twas dated 1811! "Well," said she; "I'M sure."
TEXTS
i=0
while IFS= read -r line; do
	i=$((i + 1))
	t="$W/tiny-text-$i"
	printf '%s' "$line" | sed 's/\\n/\n/g' >"$t"
	c_ids=$(od -An -tx1 -v "$t" | tr -d ' \n' | { cat; echo; } | "$W/tokdrv" "$M" encode special)
	py_ids=$($PY tools/train_llm.py --model "$M" --encode-file "$t" 2>&1)
	if [ "$c_ids" = "$py_ids" ]; then ok "atelier-tiny: C ids = Python BPE ids, text $i"; else
		notok "atelier-tiny: C ids = Python BPE ids, text $i" "C [$c_ids] Python [$py_ids]"; fi
	back=$(echo "$c_ids" | "$W/tokdrv" "$M" decode)
	want=$(sed 's/<|im_start|>//g; s/<|im_end|>//g' "$t" | od -An -tx1 -v | tr -d ' \n')
	if [ "$back" = "$want" ]; then ok "atelier-tiny: decode round trip, text $i"; else
		notok "atelier-tiny: decode round trip, text $i" "got $back want $want"; fi
done <"$texts"

if [ -x "$B/atelier" ] && "$B/atelier" 2>&1 | grep -q "run"; then
	out=$(timeout 60 "$B/atelier" run "$M" -p "Emma Woodhouse, handsome, clever, and rich," -n 24 --seed 11 --threads 1 2>"$W/run.err")
	rc=$?
	if [ $rc -eq 0 ] && [ -n "$out" ] && printf '%s' "$out" | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1; then
		ok "atelier-tiny: atelier run generates text"
	else
		notok "atelier-tiny: atelier run generates text" "rc=$rc out=$(printf '%s' "$out" | head -c 200) err=$(head -c 300 "$W/run.err")"
	fi
	out=$(timeout 60 "$B/atelier" run "$M" --chat -p "How do you do?" -n 24 --seed 7 --threads 1 2>"$W/run.err")
	rc=$?
	if [ $rc -eq 0 ] && printf '%s' "$out" | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1; then
		ok "atelier-tiny: atelier run --chat answers"
	else
		notok "atelier-tiny: atelier run --chat answers" "rc=$rc err=$(head -c 300 "$W/run.err")"
	fi
fi
echo "1..$n"
