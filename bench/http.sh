#!/bin/sh
# bench/http.sh: requests per second and p50/p99 latency of atelier's
# GET /healthz and of a JSON route that parses a body and answers JSON, side
# by side with nginx (one worker) serving a static file of the same size, in
# the same run. Prints atelier/nginx ratios. Target (issue 2): >= 0.5x nginx.
#
#   sh bench/http.sh            DUR=5 CONNS=64 by default
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
command -v wrk >/dev/null && command -v nginx >/dev/null || { echo "bench: needs wrk and nginx (scripts/deps.sh)"; exit 1; }
make -s all >/dev/null
tmp=$(mktemp -d)
RESULTS=$tmp/results
: >"$RESULTS"
pa=$(free_port); pn=$(free_port)
cleanup() {
	[ -n "${apid:-}" ] && kill "$apid" 2>/dev/null
	[ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null
	sleep 0.2
	rm -rf "$tmp"
}
trap cleanup EXIT

# atelier with one HTTP thread, to match nginx's one worker; logs discarded
# (it still formats and writes every line, as in production)
ATELIER_SERVER_THREADS=${THREADS:-1} ATELIER_SERVER_DEBUG_ROUTES=true \
	./build/atelier serve --listen 127.0.0.1:$pa --data-dir "$tmp/data" >/dev/null 2>&1 &
apid=$!

mkdir -p "$tmp/www" "$tmp/nginx/logs"
chmod 755 "$tmp" "$tmp/www"
printf '{"status":"ok"}' >"$tmp/www/healthz"
# the JSON route's answer, fetched once so nginx serves the same bytes
cat >"$tmp/nginx.conf" <<NGX
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	default_type application/json;
	server {
		listen 127.0.0.1:$pn;
		location / { root $tmp/www; }
	}
}
NGX
wait_http "http://127.0.0.1:$pa/healthz"
body='{"model":"atelier-tiny","messages":[{"role":"user","content":"hello there"}],"max_tokens":16}'
curl -s -X POST -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$pa/api/debug/echo" >"$tmp/www/echo"
nginx -c "$tmp/nginx.conf" -p "$tmp/nginx"
wait_http "http://127.0.0.1:$pn/healthz"
cat >"$tmp/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA

echo "bench/http: wrk -t1 -c${CONNS:-64} -d${DUR:-5}s; atelier threads=${THREADS:-1}, nginx 1 worker; $(nproc) cores"
wrk_run nginx-static-15B "http://127.0.0.1:$pn/healthz"
wrk_run atelier-healthz "http://127.0.0.1:$pa/healthz"
wrk_run nginx-static-json "http://127.0.0.1:$pn/echo"
wrk_run atelier-json-route "http://127.0.0.1:$pa/api/debug/echo" -s "$tmp/post.lua"
echo "ratio healthz/nginx:        $(ratio atelier-healthz nginx-static-15B)   (target >= 0.5)"
echo "ratio json-route/nginx:     $(ratio atelier-json-route nginx-static-json)   (target >= 0.5)"
