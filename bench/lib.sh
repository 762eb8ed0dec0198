# bench/lib.sh: shared helpers for the benchmark scripts (sourced).
# Every benchmark measures a reference in the same run on the same machine
# and prints ratios, because this machine is shared and noisy.

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL: until it answers, at most 10 s.
wait_http() {
	for _ in $(seq 1 100); do
		curl -s -o /dev/null "$1" && return 0
		sleep 0.1
	done
	echo "bench: $1 did not answer" >&2
	return 1
}

# wrk_run NAME URL [wrk args...]: prints "NAME rps p50_ms p99_ms"
wrk_run() {
	name=$1; url=$2; shift 2
	out=$(wrk -t1 -c"${CONNS:-64}" -d"${DUR:-5}"s --latency "$@" "$url")
	rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
	p50=$(echo "$out" | awk '$1=="50%" {print $2}')
	p99=$(echo "$out" | awk '$1=="99%" {print $2}')
	errs=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
	printf '%-34s %10s req/s   p50 %8s   p99 %8s%s\n' "$name" "$rps" "$p50" "$p99" "${errs:+   non-2xx $errs}"
	echo "$name $rps" >>"$RESULTS"
}

ratio() { # ratio A B -> A/B from the results file
	a=$(awk -v n="$1" '$1==n {print $2}' "$RESULTS")
	b=$(awk -v n="$2" '$1==n {print $2}' "$RESULTS")
	awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
}
