#!/usr/bin/env bash
# What one call costs a server, counted in instructions by callgrind, which
# are the same run after run whatever else the machine is doing (unlike CPU
# time). Usage, from the repository root, after `cargo build --release`:
#
#   rust/bench/empty-server/instructions-per-call.sh [CALLS] [CONNECTIONS] [STREAMS] -- SERVER [ARGS...]
#
# for example, our server with its metrics on, and the yardstick, at
# concurrency 16 (2 connections of 8 streams) and 64 (4 of 16):
#
#   rust/bench/empty-server/instructions-per-call.sh 20000 2 8 -- \
#       target/release/recommendations --metrics-listen 127.0.0.1:0
#   rust/bench/empty-server/instructions-per-call.sh 20000 4 16 -- target/release/empty-server
#
# It starts SERVER --listen 127.0.0.1:0 under callgrind, pinned to one CPU
# as `just bench` pins it (so tokio sizes its runtime as it would there),
# waits for its `listening addr=` line, warms it up with a tenth of the calls,
# zeroes the counters, sends CALLS Recommend calls with h2load (Debian's
# nghttp2-client) and prints the instructions per call. The callgrind profile
# of the measured calls is kept (the path is printed) for
# `callgrind_annotate --inclusive=yes`. Needs valgrind and h2load.
set -euo pipefail

calls=20000 connections=2 streams=8
if [[ $# -gt 0 && $1 != -- ]]; then calls=$1; shift; fi
if [[ $# -gt 0 && $1 != -- ]]; then connections=$1; shift; fi
if [[ $# -gt 0 && $1 != -- ]]; then streams=$1; shift; fi
[[ ${1:-} == -- ]] && shift
if [[ $# -eq 0 ]]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 2
fi

work=$(mktemp -d)
server_pid=
cleanup() {
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

# RecommendationRequest{user_id: 1, category: MYSTERY, max_results: 3} in a
# gRPC frame: uncompressed, 4 bytes long.
printf '\x00\x00\x00\x00\x04\x08\x01\x18\x03' >"$work/request"

taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" \
    "$@" --listen 127.0.0.1:0 2>"$work/server.log" &
server_pid=$!
addr=
for _ in $(seq 600); do
    addr=$(sed -n 's/.*listening addr=\([^ ]*\).*/\1/p' "$work/server.log" | head -n 1)
    [[ -n $addr ]] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.1
done
[[ -n $addr ]] || { echo "no 'listening addr=' line within 60 s" >&2; exit 1; }

load() {
    h2load --no-tls-proto=h2c -n "$1" -c "$connections" -m "$streams" -d "$work/request" \
        -H 'content-type: application/grpc' -H 'te: trailers' \
        "http://$addr/Recommendations/Recommend" >"$work/h2load.out"
    if ! grep -q "requests: $1 total, $1 started, $1 done, $1 succeeded, 0 failed, 0 errored" \
        "$work/h2load.out"; then
        cat "$work/h2load.out" >&2
        exit 1
    fi
}

load $((calls / 10))
callgrind_control --zero "$server_pid" >/dev/null 2>&1
load "$calls"
callgrind_control --dump=measured "$server_pid" >/dev/null 2>&1
profile=$(ls "$work"/callgrind.out.* | head -n 1)
instructions=$(sed -n 's/^summary: *//p' "$profile")
echo "server: $*"
echo "calls: $calls over $connections connections of $streams streams (concurrency $((connections * streams)))"
echo "instructions per call: $((instructions / calls))"
echo "profile: $profile"
