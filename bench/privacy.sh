#!/bin/sh
# Privacy rights on a large account: erasure of an account with 10,000
# sealed rows (objections with a sealed note, standing in for images until
# the image store lands) and 100,000 usage rows, in one transaction, and an
# export of the same, beside the time to insert them (the reference measured
# in the same run).
set -eu
cd "$(dirname "$0")/.."
[ -x build/atelier ] || make -s all
./build/atelier privacy bench --rows "${ROWS:-10000}" --usage "${USAGE:-100000}"
