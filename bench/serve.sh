#!/bin/sh
# bench/serve.sh: the text API under load. N concurrent streaming clients
# (1, 4, 16) against a builtin model: aggregate tokens/s, time to first
# token p50/p99, inter-token latency p99; beside `atelier bench` on the same
# model and threads in the same run. Then the gateway overhead: a request
# through an Atelier gateway to an upstream Atelier vs straight to it.
# Targets (issue 5): 16 clients >= 3x one client's tokens/s; gateway p99
# overhead < 1 ms (measured by the client as gateway minus direct, and by the
# gateway itself: atelier_upstream_overhead_seconds).
#
#   sh bench/serve.sh     MODEL=path.gguf (or mid) THREADS=2 MAXTOK=64 SECONDS_PER_RUN=4 SAMPLES=1000
#                         CLIENTS="1 4 16" (empty: the gateway figures only) ROUNDS=3
set -eu
[ -n "${DEBUG:-}" ] && set -x
cd "$(dirname "$0")/.."
. bench/lib.sh
make -s all >/dev/null
tmp=$(mktemp -d)
THREADS=${THREADS:-2}
MAXTOK=${MAXTOK:-64}
RUN_S=${SECONDS_PER_RUN:-4}
MODEL=${MODEL:-}
if [ "$MODEL" = mid ]; then
	# a random 150M-parameter F16 llama (300 MB): weights far past the
	# caches, as for any model worth serving, where one stream waits on
	# memory and a batch reads the weights once for all; the tiny model fits
	# in cache, so one stream is already near what the cores can compute
	/usr/bin/python3 -c 'import sys; sys.path.insert(0, "tools"); import make_test_models as m; m.write_model(sys.argv[1], "llama", "F16", dict(dim=1024, layers=12, heads=16, kv=8, ffn=2816, vocab=4096, ctx=512))' "$tmp/mid.gguf"
	MODEL=$tmp/mid.gguf
fi
if [ -z "$MODEL" ]; then
	if [ -f models/atelier-tiny.gguf ]; then MODEL=models/atelier-tiny.gguf; else
		/usr/bin/python3 tools/make_test_models.py "$tmp" llama_q8_0 >/dev/null
		MODEL=$tmp/llama_q8_0.gguf
	fi
fi
cleanup() { for p in $(cat "$tmp/pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done; sleep 0.3; rm -rf "$tmp"; }
trap cleanup EXIT

# start NAME CONFIG: serve with a fresh data dir; a user and an API key
start() {
	port=$(free_port)
	printf 'violet-kettle-bench-staircase\n' | ./build/atelier admin create-user --email "$1@example.org" \
		--username "$1" --role user --password-stdin --data-dir "$tmp/$1" >/dev/null 2>&1
	./build/atelier serve --listen 127.0.0.1:$port --data-dir "$tmp/$1" --config "$2" >/dev/null 2>&1 &
	echo $! >>"$tmp/pids"
	wait_http "http://127.0.0.1:$port/healthz"
	csrf=$(curl -s -c "$tmp/$1.cj" -H 'Content-Type: application/json' \
		-d "{\"login\":\"$1\",\"password\":\"violet-kettle-bench-staircase\"}" \
		"http://127.0.0.1:$port/api/auth/login" | /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["csrf"])')
	key=$(curl -s -b "$tmp/$1.cj" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
		-d '{"name":"bench","scopes":["generate"]}' "http://127.0.0.1:$port/api/keys" |
		/usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["key"])')
	echo "http://127.0.0.1:$port $key"
}

cat >"$tmp/up.ini" <<INI
[model.m]
backend = builtin
path = $MODEL
threads = $THREADS
max_queue = 256
INI
set -- $(start benchup "$tmp/up.ini")
UP=$1; UPKEY=$2
cat >"$tmp/gw.ini" <<INI
[model.r]
backend = openai
base_url = $UP/v1
api_key = $UPKEY
upstream_model = m
INI
set -- $(start benchgw "$tmp/gw.ini")
GW=$1; GWKEY=$2

echo "model: $MODEL  threads: $THREADS  max_tokens: $MAXTOK"
echo "reference: atelier bench (same model and threads): one sequence, then 16 in one batch"
# the engine alone, without HTTP, sampling or clients sharing the cores: the
# ceiling of the servers' 16/1 ratio on this machine
./build/atelier bench "$MODEL" --threads "$THREADS" --gen "$MAXTOK" --prompt 16 2>&1 | grep '^tg' | tee "$tmp/eng"
./build/atelier bench "$MODEL" --threads "$THREADS" --gen "$MAXTOK" --prompt 16 --seqs 16 2>&1 | grep '^tg' | tee -a "$tmp/eng"
awk -F': ' '{ sub(/ tok.*/, "", $2); v[NR] = $2 } END { if (v[1] > 0) printf "engine ratio 16/1 = %.2f\n", v[2] / v[1] }' "$tmp/eng"
# one request first, so no figure carries the first page-in of the weights
node bench/serve_client.mjs stream "$UP" "$UPKEY" m 1 "$MAXTOK" 1 >/dev/null
# steady state: each client sends requests for RUN_S seconds, counted after
# 0.5 s; ROUNDS rounds of every client count, interleaved, so a slow spell of
# this shared machine falls on all counts alike; then the median of each
r=0
while [ "$r" -lt "${ROUNDS:-3}" ]; do
	r=$((r + 1))
	for n in ${CLIENTS-1 4 16}; do
		node bench/serve_client.mjs steady "$UP" "$UPKEY" m "$n" "$MAXTOK" "$RUN_S" 0.5 | tee -a "$tmp/steady"
	done
done
[ -s "$tmp/steady" ] && awk '
	{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } n = f["clients"]; v[n, ++c[n]] = f["tok_s"]; if (!(n in seen)) { seen[n] = 1; order[++k] = n } }
	function median(n,   i, j, t, m) { m = c[n]; for (i = 1; i <= m; i++) a[i] = v[n, i]
		for (i = 2; i <= m; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
	END { for (i = 1; i <= k; i++) { med[order[i]] = median(order[i]); printf "median clients=%s tok_s=%.1f (%d rounds)\n", order[i], med[order[i]], c[order[i]] }
	      if ((1 in med) && (16 in med) && med[1] > 0) printf "ratio 16/1 (medians) = %.2f (target >= 3)\n", med[16] / med[1] }' "$tmp/steady"
node bench/serve_client.mjs overhead "$GW" "$GWKEY" r "$UP" "$UPKEY" m ${SAMPLES:-1000}
# the gateway's own account of the same calls: its time before each upstream
# call and after the upstream's answer ended (histogram in /metrics); a
# quantile is reported as the bucket bound it falls under
curl -s "$GW/metrics" | awk '
	/^atelier_upstream_overhead_seconds_bucket/ { match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5); b[n] = le; c[n++] = $2 }
	/^atelier_upstream_overhead_seconds_count/ { total = $2 }
	/^atelier_upstream_overhead_seconds_sum/ { sum = $2 }
	function q(p,   i) { for (i = 0; i < n; i++) if (c[i] >= p * total) return b[i] == "+Inf" ? "+Inf" : sprintf("%.2f", b[i] * 1000); return "?" }
	END { if (total) printf "gateway_own_overhead (in-server, %d calls) mean_ms=%.3f p50_ms<=%s p90_ms<=%s p99_ms<=%s\n", total, 1000 * sum / total, q(0.5), q(0.9), q(0.99) }'

