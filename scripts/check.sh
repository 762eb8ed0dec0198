#!/bin/sh
# Runs every test suite and ends with one line "N passed, N failed".
# Suites: cmocka unit tests, TAP scripts in tests/ref/ (engine references and
# other checks that need real outside programs), node:test end-to-end tests
# against the real binary, browser tests in Chromium, short fuzz runs.
# ASAN=1 builds everything with AddressSanitizer and UBSan into build-asan/.
set -u
cd "$(dirname "$0")/.."
B=build
SAN=""
OPT=-O2
if [ "${ASAN:-}" = 1 ]; then
	B=build-asan
	OPT=-O1
	SAN="-fsanitize=address,undefined -fno-omit-frame-pointer"
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
export ATELIER_BIN="$PWD/$B/atelier"
mkdir -p tests/artifacts
pass=0
fail=0
skip=0
failed_names=""

if ! make -j2 BUILD=$B OPT="$OPT" SAN="$SAN" all unit >tests/artifacts/build.log 2>&1; then
	tail -40 tests/artifacts/build.log
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
fi

# count_tap FILE NAME: adds the file's "ok"/"not ok" lines (top level only).
count_tap() {
	# a skipped test ("ok N # SKIP") is reported as skipped, never as passed
	k=$(grep -ciE '^ok .*# *skip' "$1")
	p=$(($(grep -c '^ok ' "$1") - k))
	f=$(grep -c '^not ok ' "$1")
	skip=$((skip + k))
	pass=$((pass + p))
	fail=$((fail + f))
	[ "$f" -gt 0 ] && failed_names="$failed_names $2"
	return 0
}

echo "== unit"
for t in $(find $B/tests/unit -type f -name '*_test' | sort); do
	log=tests/artifacts/$(basename "$t").tap
	# a hung test must not eat CI's time: each binary gets 5 minutes
	CMOCKA_MESSAGE_OUTPUT=TAP timeout 300 "$t" >"$log" 2>&1
	rc=$?
	count_tap "$log" "$t"
	if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$log"; then
		fail=$((fail + 1)); failed_names="$failed_names $t(rc=$rc)"
		tail -20 "$log"
	fi
	grep '^not ok' "$log" | sed "s|^|  $(basename "$t"): |"
done

echo "== ref"
for s in tests/ref/*.sh; do
	[ -f "$s" ] || continue
	log=tests/artifacts/$(basename "$s" .sh).tap
	BUILD=$B timeout 900 sh "$s" >"$log" 2>&1
	rc=$?
	count_tap "$log" "$s"
	if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$log"; then
		fail=$((fail + 1)); failed_names="$failed_names $s(rc=$rc)"
		tail -20 "$log"
	fi
	grep '^not ok' "$log" | sed "s|^|  $(basename "$s"): |"
done

# node_suite DIR: npm ci, then node --test over DIR/*.test.js.
node_suite() {
	dir=$1
	ls "$dir"/*.test.js >/dev/null 2>&1 || return 0
	echo "== $dir"
	if ! (cd "$dir" && npm ci --silent --no-audit --no-fund >/dev/null 2>&1); then
		echo "npm ci failed in $dir"
		fail=$((fail + 1)); failed_names="$failed_names $dir(npm)"
		return 0
	fi
	log=tests/artifacts/$(basename "$dir").tap
	timeout 1800 node --test --test-reporter=tap --test-concurrency=1 --test-timeout=600000 "$dir"/*.test.js >"$log" 2>&1
	p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log" | tail -1)
	k=$(sed -n 's/^# skipped \([0-9]*\)$/\1/p' "$log" | tail -1)
	p=${p:-0}
	f=${f:-1}
	k=${k:-0}
	skip=$((skip + k))
	pass=$((pass + p))
	fail=$((fail + f))
	if [ "$f" -gt 0 ]; then
		failed_names="$failed_names $dir"
		grep -B2 -A25 '^\s*not ok' "$log" | head -150
	fi
}
node_suite tests/e2e
node_suite tests/browser

if [ -n "$failed_names" ]; then
	echo "failing:$failed_names"
fi
if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
