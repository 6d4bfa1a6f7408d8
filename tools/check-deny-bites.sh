#!/usr/bin/env bash
# Proves the dependency rules bite: in a scratch copy of the workspace, adds
# each forbidden edge in turn and expects `cargo deny check bans` to refuse it.
# Usage: tools/check-deny-bites.sh PATH_TO_CARGO_DENY
set -euo pipefail
cargo_deny=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# Copies the manifests and sources cargo metadata needs, nothing built.
fresh_copy() {
    rm -rf "$scratch/ws"
    mkdir -p "$scratch/ws"
    (cd "$root" && git ls-files -z --cached --others --exclude-standard -- Cargo.toml Cargo.lock deny.toml rust) |
        (cd "$root" && xargs -0 cp --parents -t "$scratch/ws")
}

# Runs cargo-deny on the copy with ARGS and expects it to report a ban.
expect_banned() {
    local what=$1; shift
    local log="$scratch/deny.log"
    if (cd "$scratch/ws" && "$cargo_deny" --offline "$@") >"$log" 2>&1; then
        echo "check-deny-bites: $what was NOT refused:" >&2; cat "$log" >&2; exit 1
    fi
    if ! grep -q "banned" "$log"; then
        echo "check-deny-bites: $what failed, but not as a ban:" >&2; cat "$log" >&2; exit 1
    fi
    echo "refused as it must be: $what"; [ -z "${SHOW:-}" ] || cat "$log"
}

fresh_copy
sed -i 's/^\[dependencies\]$/[dependencies]\nrecommender.workspace = true/' "$scratch/ws/rust/marketplace/Cargo.toml"
expect_banned "the marketplace depending on the core" --config deny.toml --all-features check bans

fresh_copy
sed -i 's/^\[dependencies\]$/[dependencies]\ntokio.workspace = true/' "$scratch/ws/rust/recommender/Cargo.toml"
expect_banned "tokio in the core" --manifest-path rust/recommender/Cargo.toml \
    --config rust/recommender/deny.toml --all-features check bans
