# Sourced by the scripts beside it: one project-local podman set-up.
#
# Everything podman keeps (images, build cache, containers, networks) lives in
# .tools/containers/ (git-ignored); the machine's /etc/containers and
# /var/lib/containers are neither read for settings nor written.

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$REPO/tools/containers
STATE=$REPO/.tools/containers

# The versions the recipe installs (Debian's for the engine, PyPI's for compose).
PODMAN_COMPOSE_VERSION=1.6.0
PYYAML_VERSION=6.0.3
PYTHON_DOTENV_VERSION=1.2.4

# The base images the Dockerfiles start FROM, made locally (see base-images.sh).
DEBIAN_IMAGE=docker.io/library/debian:bookworm-slim
RUST_IMAGE=docker.io/library/rust:1.95-bookworm
PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm

# The project's images, as compose.yaml names them.
COMPOSE_FILE=$REPO/compose.yaml

PODMAN_COMPOSE=$STATE/compose/bin/podman-compose

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Runs a command quietly; on failure shows its output and stops.
quiet() {
    local log
    log=$(mktemp)
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        die "failed: $*"
    fi
    rm -f "$log"
}

# The project-local configuration, written fresh each time (it holds absolute paths).
containers_env() {
    mkdir -p "$STATE/storage" "$STATE/run" "$STATE/networks" "$STATE/tmp"
    sed "s|@STATE@|$STATE|g" "$HERE/containers.conf" >"$STATE/containers.conf"
    cat >"$STATE/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$STATE/storage"
runroot = "$STATE/run/storage"
CONF
    cat >"$STATE/registries.conf" <<CONF
# No registry is reached: builds use --pull=never. Short names mean Docker Hub's,
# as in the Dockerfiles, so FROM rust:1.95-bookworm finds the local stand-in.
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"
CONF
    export CONTAINERS_CONF=$STATE/containers.conf
    export CONTAINERS_STORAGE_CONF=$STATE/storage.conf
    export CONTAINERS_REGISTRIES_CONF=$STATE/registries.conf
    # Build scratch files, and the Dockerfiles' cache mounts (buildah-cache/:
    # cargo's registry and target/), kept between runs; not the machine's /var/tmp.
    export TMPDIR=$STATE/tmp
}

# What bridge networking changes on the machine, saved before and put back
# after: the firewall (netavark's iptables-nft tables), IP forwarding, and
# netavark's run-time folder.
HOST_STATE=$STATE/host-state
host_state_save() {
    rm -rf "$HOST_STATE"
    mkdir -p "$HOST_STATE"
    # (2>/dev/null: nft warns that iptables-nft manages its tables.)
    nft list ruleset >"$HOST_STATE/ruleset.nft" 2>/dev/null
    nft list tables >"$HOST_STATE/tables" 2>/dev/null
    for sysctl in net/ipv4/ip_forward net/ipv6/conf/all/forwarding; do
        if [ -f "/proc/sys/$sysctl" ]; then
            cat "/proc/sys/$sysctl" >"$HOST_STATE/${sysctl//\//.}"
        fi
    done
    if [ -e /run/containers/networks ]; then touch "$HOST_STATE/netavark-run-dir"; fi
    ip -o link show type bridge | awk -F': ' '{print $2}' >"$HOST_STATE/bridges"
}

host_state_restore() {
    [ -d "$HOST_STATE" ] || return 0
    local table sysctl value
    # Tables netavark made go whole; tables that were there get their old rules back.
    while read -r table; do
        if ! grep -qxF "$table" "$HOST_STATE/tables"; then
            nft delete $table 2>/dev/null || true
        fi
    done < <(nft list tables 2>/dev/null)
    if ! nft list ruleset 2>/dev/null | cmp -s - "$HOST_STATE/ruleset.nft"; then
        if ! { echo "flush ruleset"; cat "$HOST_STATE/ruleset.nft"; } | nft -f - 2>/dev/null; then
            cp "$HOST_STATE/ruleset.nft" "$STATE/ruleset-before.nft"
            echo "warning: could not put the firewall back as it was (saved in $STATE/ruleset-before.nft)" >&2
        fi
    fi
    for sysctl in net/ipv4/ip_forward net/ipv6/conf/all/forwarding; do
        if [ -f "$HOST_STATE/${sysctl//\//.}" ]; then
            value=$(cat "$HOST_STATE/${sysctl//\//.}")
            if [ "$(cat "/proc/sys/$sysctl")" != "$value" ]; then echo "$value" >"/proc/sys/$sysctl"; fi
        fi
    done
    # A bridge netavark made and, after a failed start, left behind.
    local bridge
    while read -r bridge; do
        if [[ "$bridge" == podman* ]] && ! grep -qxF "$bridge" "$HOST_STATE/bridges"; then
            ip link delete "$bridge" 2>/dev/null || true
        fi
    done < <(ip -o link show type bridge | awk -F': ' '{print $2}')
    # netavark's folder, when it made it and no aardvark-dns of anyone's still
    # runs (it stops by itself, soon after the last network goes down).
    if [ ! -e "$HOST_STATE/netavark-run-dir" ] && [ -d /run/containers/networks ]; then
        local tries=0
        while pgrep -x aardvark-dns >/dev/null && [ "$tries" -lt 50 ]; do
            sleep 0.1
            tries=$((tries + 1))
        done
        if ! pgrep -x aardvark-dns >/dev/null; then
            rm -rf /run/containers/networks
            rmdir /run/containers 2>/dev/null || true
        fi
    fi
    rm -rf "$HOST_STATE"
}
