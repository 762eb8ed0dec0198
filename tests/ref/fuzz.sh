#!/bin/sh
# fuzz.sh: a short libFuzzer run (20 s) of every target; one TAP line each run.
set -u
if out=$(sh scripts/fuzz.sh 20 2>&1); then
	echo "ok 1 - fuzz targets ran 20 s without a crash: $(echo "$out" | tr '\n' ' ')"
else
	echo "not ok 1 - fuzz found a problem"; echo "$out" | sed 's/^/# /'
fi
echo "1..1"
