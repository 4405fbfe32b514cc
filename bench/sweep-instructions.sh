#!/bin/sh
# User-space instructions per order of a steady sweep and of the raw fetch
# of its requests, counted by callgrind: steady on a shared machine, where
# seconds are not: repeated runs agreed within 0.3% for the sweep and 4%
# for the raw fetch (mostly net/http and the scheduler, which follow the
# timing of the loopback). Runs BenchmarkSweep and
# BenchmarkRawFetch at concurrency 4 on 20,000 orders at 1 and 3
# iterations and divides the difference (2 passes) by 40,000. Both run in
# one process with the simulated API (bench.StartAPI, answers memoised),
# so each count holds the API's serving too, the same for both: their
# difference is the sweep's own work (decoding, checks, sums). The kernel's
# part (loopback, syscalls) is not counted.
# Go's preemption signals abort callgrind: off, on one P; and no GC.
# Usage: bench/sweep-instructions.sh   (needs valgrind)
set -eu
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/bench.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" ./bench/
out="$(dirname "$bin")/out"
. bench/callgrind.sh
count() {
	callgrind_count "$1 $2" "$out" \
		"$bin" -test.run XXX -test.bench "$1" -test.benchtime "$2" -orders 20000
}
for b in 'Sweep/conc=4' 'RawFetch/conc=4'; do
	one=$(count "$b" 1x)
	three=$(count "$b" 3x)
	echo "$b $one $three" | awk '{printf "%-16s %.0f instructions an order\n", $1, ($3 - $2) / 2 / 20000}'
done
