#!/bin/sh
# bench/auth.sh: what authentication costs.
#
#   1. sign-ins per second: bounded by Argon2id by design ([auth]
#      hash_concurrency hashes of argon2_memlimit at a time);
#   2. requests per second of a route authenticated with an API key
#      (GET /api/debug/whoami, `Authorization: Bearer sk-…`) against an
#      unauthenticated route of similar size (GET /healthz), in the same run,
#      interleaved, best of three each. The ratio is what a key check costs:
#      one SHA-256 and one indexed lookup (target: >= 0.95).
#
# Needs wrk and curl. Usage: sh bench/auth.sh [seconds per run, default 5]
set -eu
cd "$(dirname "$0")/.."
D=${1:-5}
BIN=${ATELIER_BIN:-build/atelier}
[ -x "$BIN" ] || make -s all
command -v wrk >/dev/null || { echo "bench/auth.sh: wrk is not installed (scripts/deps.sh)"; exit 1; }

TMP=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$TMP/atelier.ini" <<INI
[server]
debug_routes = true
log_level = warn
[auth]
ip_free_failures = 100000
INI
"$BIN" serve --config "$TMP/atelier.ini" --listen 127.0.0.1:$PORT --data-dir "$TMP/data" >"$TMP/out" 2>"$TMP/err" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$TMP"' EXIT INT TERM
URL=http://127.0.0.1:$PORT
for i in $(seq 100); do curl -sf $URL/healthz >/dev/null 2>&1 && break; kill -0 $PID 2>/dev/null || { cat "$TMP/err"; exit 1; }; sleep 0.1; done

PW=bench-violet-kettle-staircase
curl -sf -X POST $URL/api/auth/signup -H 'Content-Type: application/json' \
	-d "{\"email\":\"bench@example.org\",\"username\":\"bench\",\"password\":\"$PW\",\"birth_date\":\"1990-01-01\"}" >/dev/null
LOGIN=$(curl -sf -c "$TMP/jar" -X POST $URL/api/auth/login -H 'Content-Type: application/json' \
	-d "{\"login\":\"bench\",\"password\":\"$PW\"}")
CSRF=$(printf '%s' "$LOGIN" | sed -n 's/.*"csrf":"\([^"]*\)".*/\1/p')
KEY=$(curl -sf -b "$TMP/jar" -X POST $URL/api/keys -H 'Content-Type: application/json' -H "X-CSRF-Token: $CSRF" \
	-d '{"name":"bench","scopes":["read"]}' | sed -n 's/.*"key":"\(sk-[^"]*\)".*/\1/p')
[ -n "$KEY" ] || { echo "bench/auth.sh: could not make an API key"; cat "$TMP/err"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" $URL/api/debug/whoami)
[ "$code" = 200 ] || { echo "bench/auth.sh: the key does not authenticate ($code)"; exit 1; }

cat >"$TMP/login.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"login":"bench","password":"$PW"}'
wrk.headers["Content-Type"] = "application/json"
LUA

rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p'; }
best() { printf '%s\n' "$@" | sort -g | tail -1; }

echo "== sign-ins (Argon2id, m=19 MiB t=2 p=1, 2 at a time), ${D}s"
LOGINS=$(wrk -t2 -c4 -d${D}s -s "$TMP/login.lua" $URL/api/auth/login | rps)
echo "sign-ins/s: $LOGINS"

echo "== wrk -t1 -c32, ${D}s each, interleaved x5 (best of each):"
echo "   A: GET /healthz, unauthenticated"
echo "   B: GET /healthz with the key (the authenticator resolves it; pure cost of the check)"
echo "   C: GET /api/debug/whoami with the key (an authenticated route of similar size)"
A=""; B=""; C=""
for i in 1 2 3 4 5; do
	a=$(wrk -t1 -c32 -d${D}s $URL/healthz | rps)
	b=$(wrk -t1 -c32 -d${D}s -H "Authorization: Bearer $KEY" $URL/healthz | rps)
	c=$(wrk -t1 -c32 -d${D}s -H "Authorization: Bearer $KEY" $URL/api/debug/whoami | rps)
	echo "  run $i: A $a  B $b  C $c req/s"
	A="$A $a"; B="$B $b"; C="$C $c"
done
AB=$(best $A); BB=$(best $B); CB=$(best $C)
echo "A unauthenticated:        $AB req/s"
echo "B key check, public route: $BB req/s  ratio B/A $(python3 -c "print(f'{$BB/$AB:.3f}')")"
echo "C key-authenticated route: $CB req/s  ratio C/A $(python3 -c "print(f'{$CB/$AB:.3f}')") (target >= 0.95)"
echo "(load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores: other load makes single runs noisy)"
