#!/usr/bin/env bash
# Release builds of `recommendations` and `marketplace`, optimised with a
# profile of their own hot paths (profile-guided optimisation, PGO):
#
#   1. both services and the load generator are built instrumented
#      (`-Cprofile-generate`);
#   2. they are trained on loopback: the server under gRPC load at 1, 16 and 64
#      calls in flight, with its metrics on, and the marketplace serving every
#      shelf to curl, in parallel, against that server;
#   3. llvm-profdata merges the two services' profiles;
#   4. the same packages are built again with that profile (`-Cprofile-use`),
#      and the binaries asked for are copied out.
#
# Usage, from anywhere: tools/pgo/build.sh [OUT_DIR [BINARY...]]
#                    or: tools/pgo/build.sh --missing-llvm-package
#
# The second form prints the Debian package that would provide the missing
# llvm-profdata (`llvm-N`), or nothing when one is found: `just release`
# installs it.
#
# BINARY is `recommendations` or `marketplace` (default both); they end up in
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
        recommendations | marketplace) ;;
        *) die "no such binary: $binary (recommendations or marketplace)" ;;
    esac
done
# The instrumented and the optimised builds compile the same packages, so that
# cargo unifies the same features: a crate built with other features has other
# symbols and control flow, and the profile of its functions is silently
# dropped. Built alone, the server lost the profile of most of its hot path
# (52,400 instructions a call under callgrind against 46,400).
packages=(-p recommendations-server --bin recommendations -p marketplace --bin marketplace
    -p loadgen --bin loadgen)
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
    local server=$addr load concurrency connections
    for load in "1 1" "16 4" "64 4"; do
        read -r concurrency connections <<<"$load"
        LLVM_PROFILE_FILE="$work/loadgen-%p.profraw" "$bin/loadgen" --target "http://$server" \
            --concurrency "$concurrency" --connections "$connections" --duration 2 \
            --warmup 0.5 >/dev/null
    done
    start marketplace "$bin/marketplace" --recommendations-url "http://$server"
    # Every shelf for many readers, 16 pages at a time; the pages are not
    # kept, but a failed one fails the build.
    curl --silent --no-progress-meter --show-error --fail --parallel --parallel-max 16 \
        "http://$addr/?user=[1-3000]" \
        "http://$addr/category/{science-fiction,self-help}?user=[1-500]&max=5" >/dev/null
    stop_last
    stop_last
    local profiles=("$work"/recommendations-*.profraw "$work"/marketplace-*.profraw)
    [ -s "${profiles[0]}" ] && [ -s "${profiles[-1]}" ] || die "the trained services wrote no profile"

    say "3/4 merging the profiles with $profdata"
    rm -rf "$target/profiles"
    mkdir -p "$target/profiles"
    "$profdata" merge --output "$profile" "${profiles[@]}"
}

sources=$(find Cargo.toml Cargo.lock rust tools/pgo -type f -print0 | LC_ALL=C sort -z \
    | xargs -0 sha256sum | sha256sum | cut -c1-16)
profile=$target/profiles/$sources.profdata
if [ -s "$profile" ]; then
    say "1-3/4 the profile of these sources is made already: $profile"
else
    train
fi

say "4/4 optimised build, for ${binaries[*]}"
RUSTFLAGS="-Cprofile-use=$profile" cargo build --release --locked --quiet \
    --target-dir "$target/optimised" "${packages[@]}"
mkdir -p "$out"
for binary in "${binaries[@]}"; do
    cp "$target/optimised/release/$binary" "$out/"
    say "built $out/$binary"
done
