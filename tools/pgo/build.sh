#!/usr/bin/env bash
# Release builds of `recommendations` and `marketplace`, optimised with a
# profile of their own hot paths (profile-guided optimisation, PGO), and of
# the benchmark's floor, `empty-server-tuned`, optimised alike with its own:
#
#   1. both services, the floor and the load generator are built instrumented
#      (`-Cprofile-generate`);
#   2. they are trained on loopback: the server under gRPC load at 1, 16 and 64
#      calls in flight, with its metrics on, and the marketplace serving every
#      shelf to curl, in parallel, against that server; then the floor under
#      the same gRPC load;
#   3. llvm-profdata merges the two services' profiles into one, and writes
#      the floor's apart, so that the services ship as they would without it;
#   4. the same packages are built again with the profile of the binaries
#      asked for (`-Cprofile-use`; the floor in a target folder of its own),
#      and those are copied out.
#
# Usage, from anywhere: tools/pgo/build.sh [OUT_DIR [BINARY...]]
#                    or: tools/pgo/build.sh --missing-llvm-package
#
# The second form prints the Debian package that would provide the missing
# llvm-profdata (`llvm-N`), or nothing when one is found: `just release`
# installs it.
#
# BINARY is `recommendations`, `marketplace` (default both) or
# `empty-server-tuned` (for `just bench`, which compares ours with it); they end up in
# OUT_DIR (default target/pgo/release). The builds and the profile live in
# target/pgo/ (or $CARGO_TARGET_DIR/pgo/). The profile is kept per state of
# the sources, so that building the other binary, or building again, reuses
# it rather than training anew (and rebuilding everything, as each new profile
# means).
#
# Training needs curl and the llvm-profdata of the LLVM that rustc is built on:
# $LLVM_PROFDATA, else llvm-profdata-N or /usr/lib/llvm-N/bin/llvm-profdata
# (Debian's llvm-N), else rustup's llvm-tools component.
set -euo pipefail

say() { echo "pgo: $*" >&2; }
die() { say "$*"; exit 1; }

rustc_info=$(rustc -vV)
llvm_major=$(sed -n 's/^LLVM version: \([0-9]*\).*/\1/p' <<<"$rustc_info")
[ -n "$llvm_major" ] || die "cannot tell which LLVM rustc is built on (rustc -vV)"

# Prints the llvm-profdata to use, of rustc's LLVM, or nothing when none is
# found. $LLVM_PROFDATA, when set, is used as it is: a wrong one fails loudly
# rather than giving way to another.
find_profdata() {
    if [ -n "${LLVM_PROFDATA:-}" ]; then
        echo "$LLVM_PROFDATA"
        return
    fi
    local candidate
    for candidate in "llvm-profdata-$llvm_major" "/usr/lib/llvm-$llvm_major/bin/llvm-profdata" \
        "$(rustc --print sysroot)/lib/rustlib/$(sed -n 's/^host: //p' <<<"$rustc_info")/bin/llvm-profdata"; do
        if command -v "$candidate" >/dev/null 2>&1; then
            echo "$candidate"
            return
        fi
    done
}

if [ "${1:-}" = --missing-llvm-package ]; then
    [ -n "$(find_profdata)" ] || echo "llvm-$llvm_major"
    exit 0
fi

out=${1:+$(realpath -m "$1")}
binaries=("${@:2}")
[ ${#binaries[@]} -gt 0 ] || binaries=(recommendations marketplace)
for binary in "${binaries[@]}"; do
    case $binary in
        recommendations | marketplace | empty-server-tuned) ;;
        *) die "no such binary: $binary (recommendations, marketplace or empty-server-tuned)" ;;
    esac
done
# The instrumented and the optimised builds compile the same packages, so that
# cargo unifies the same features: a crate built with other features has other
# symbols and control flow, and the profile of its functions is silently
# dropped. Built alone, the server lost the profile of most of its hot path
# (52,400 instructions a call under callgrind against 46,400).
packages=(-p recommendations-server --bin recommendations -p marketplace --bin marketplace
    -p empty-server --bin empty-server-tuned -p loadgen --bin loadgen)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
# Absolute: cargo runs rustc in each package's folder, where -Cprofile-use looks.
target=$(realpath -m "${CARGO_TARGET_DIR:-$repo/target}")/pgo
out=${out:-$target/release}

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Starts "$@" with its profile written to $work/NAME-PID.profraw and its log
# in $work/NAME.log, and waits for its `listening addr=` line; sets $addr.
start() {
    local name=$1
    shift
    LLVM_PROFILE_FILE="$work/$name-%p.profraw" "$@" --listen 127.0.0.1:0 2>"$work/$name.log" &
    pids+=($!)
    addr=
    for _ in $(seq 300); do
        addr=$(sed -n 's/.*listening addr=\([0-9.:]*\).*/\1/p' "$work/$name.log" | head -n 1)
        [ -n "$addr" ] && return
        kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/$name.log" >&2; die "$name exited"; }
        sleep 0.1
    done
    die "$name did not start listening within 30 s"
}

# Stops the last process started, gracefully, so that it writes its profile.
stop_last() {
    local pid=${pids[-1]}
    unset 'pids[-1]'
    kill -TERM "$pid"
    wait "$pid"
}

# The training load on the gRPC server at $1, from the instrumented load
# generator $2: 1, 16 and 64 calls in flight.
grpc_load() {
    local load concurrency connections
    for load in "1 1" "16 4" "64 4"; do
        read -r concurrency connections <<<"$load"
        LLVM_PROFILE_FILE="$work/loadgen-%p.profraw" "$2" --target "http://$1" \
            --concurrency "$concurrency" --connections "$connections" --duration 2 \
            --warmup 0.5 >/dev/null
    done
}

# Steps 1 to 3: builds instrumented binaries, trains them and writes $profile.
train() {
    local profdata
    profdata=$(find_profdata)
    [ -n "$profdata" ] || die "needs llvm-profdata of LLVM $llvm_major, as rustc is: \
apt-get install llvm-$llvm_major, rustup component add llvm-tools, or set LLVM_PROFDATA"
    command -v curl >/dev/null || die "needs curl, to train the marketplace"

    say "1/4 instrumented build"
    RUSTFLAGS="-Cprofile-generate=$target/instrumented/profiles" cargo build --release --locked \
        --quiet --target-dir "$target/instrumented" "${packages[@]}"
    local bin=$target/instrumented/release

    say "2/4 training"
    start recommendations "$bin/recommendations" --metrics-listen 127.0.0.1:0
    local server=$addr
    grpc_load "$server" "$bin/loadgen"
    start marketplace "$bin/marketplace" --recommendations-url "http://$server"
    # Every shelf for many readers, 16 pages at a time; the pages are not
    # kept, but a failed one fails the build.
    curl --silent --no-progress-meter --show-error --fail --parallel --parallel-max 16 \
        "http://$addr/?user=[1-3000]" \
        "http://$addr/category/{science-fiction,self-help}?user=[1-500]&max=5" >/dev/null
    stop_last
    stop_last
    start empty-server-tuned "$bin/empty-server-tuned"
    grpc_load "$addr" "$bin/loadgen"
    stop_last
    local profiles=("$work"/recommendations-*.profraw "$work"/marketplace-*.profraw)
    local floor_profiles=("$work"/empty-server-tuned-*.profraw)
    local written
    for written in "${profiles[@]}" "${floor_profiles[@]}"; do
        [ -s "$written" ] || die "a trained server wrote no profile: $written"
    done

    say "3/4 merging the profiles with $profdata"
    rm -rf "$target/profiles"
    mkdir -p "$target/profiles"
    "$profdata" merge --output "$floor_profile" "${floor_profiles[@]}"
    "$profdata" merge --output "$services_profile" "${profiles[@]}"
}

# Step 4: the packages built with the profile $1 into the target folder $2,
# and the binaries named after them copied out.
optimise() {
    local profile=$1 optimised=$2 binary
    shift 2
    say "4/4 optimised build, for $*"
    RUSTFLAGS="-Cprofile-use=$profile" cargo build --release --locked --quiet \
        --target-dir "$optimised" "${packages[@]}"
    mkdir -p "$out"
    for binary in "$@"; do
        cp "$optimised/release/$binary" "$out/"
        say "built $out/$binary"
    done
}

sources=$(find Cargo.toml Cargo.lock rust tools/pgo -type f -print0 | LC_ALL=C sort -z \
    | xargs -0 sha256sum | sha256sum | cut -c1-16)
services_profile=$target/profiles/$sources.profdata
floor_profile=$target/profiles/$sources-floor.profdata
if [ -s "$services_profile" ] && [ -s "$floor_profile" ]; then
    say "1-3/4 the profiles of these sources are made already: $services_profile"
else
    train
fi

services=() floor=()
for binary in "${binaries[@]}"; do
    if [ "$binary" = empty-server-tuned ]; then floor+=("$binary"); else services+=("$binary"); fi
done
[ ${#services[@]} -eq 0 ] || optimise "$services_profile" "$target/optimised" "${services[@]}"
[ ${#floor[@]} -eq 0 ] || optimise "$floor_profile" "$target/optimised-floor" "${floor[@]}"
