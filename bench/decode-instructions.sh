#!/bin/sh
# Instructions per order of the decoder on the varied pages, counted by
# callgrind: steady on a shared machine, where seconds are not. Runs
# BenchmarkDecodeVariedPages/shapes at 1 and 5 iterations and divides the
# difference (4 passes over 300 pages of 100 orders) by 120,000.
# Go's preemption signals abort callgrind: off, on one P; and no GC, whose
# work in the decoder's goroutine (assists) would be counted as its own.
# Usage: bench/decode-instructions.sh   (needs valgrind)
set -eu
cd "$(dirname "$0")/.."
bin=$(mktemp -d)/apiclient.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" ./apiclient/
out="$(dirname "$bin")/out"
. bench/callgrind.sh
count() {
	callgrind_count "$1" "$out" --toggle-collect='*decodePage*' \
		"$bin" -test.run XXX -test.bench 'DecodeVariedPages/shapes' -test.benchtime "$1"
}
one=$(count 1x)
five=$(count 5x)
echo "$one $five" | awk '{printf "%.0f instructions an order\n", ($2 - $1) / 4 / 30000}'
