# Sourced by the instruction scripts (decode-instructions.sh,
# sweep-instructions.sh): one counted run under callgrind.
#
# callgrind_count WHAT OUT ARGS... runs valgrind's callgrind on ARGS (a test
# binary and its flags) with Go's preemption signals off (they abort
# callgrind), on one P and without GC (its assists would be counted as the
# code's own), writes the run's output to OUT and prints the instructions
# collected. It fails, naming WHAT, when the run did not pass or counted
# nothing: a count lost or cut short would skew the difference of two runs
# (one printed 9,972 instead of about 3,990).
callgrind_count() {
	what=$1 out=$2
	shift 2
	GOGC=off GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 valgrind --tool=callgrind \
		--callgrind-out-file=/dev/null "$@" >"$out" 2>&1 || true
	n=$(awk '/Collected/ {print $4}' "$out")
	if ! grep -q '^PASS' "$out" || [ -z "$n" ]; then
		echo "the $what run did not pass or counted nothing:" >&2
		tail -5 "$out" >&2
		exit 1
	fi
	echo "$n"
}
