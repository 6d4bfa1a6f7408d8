#!/usr/bin/env bash
# This machine cannot pull images, so the recipe builds local stand-ins under the
# same names as the Dockerfiles' bases, once (they are kept in .tools/containers):
#   debian:bookworm-slim       debootstrap's minbase bookworm
#   rust:1.95-bookworm         that + gcc + this machine's Rust toolchain (rustup layout)
#   python:3.11-slim-bookworm  that + this machine's CPython 3.11 in /usr/local
# Builds inside them reach crates.io and PyPI as this machine does: its extra CA
# certificates and its cargo and pip settings, if any, are copied in. That is the
# machine's environment, not the project's: the Dockerfiles know nothing of it.
# REBUILD_BASE_IMAGES=1 makes them anew.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
containers_env

have() { [ "${REBUILD_BASE_IMAGES:-0}" = 0 ] && podman image exists "$1"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The machine's trust and registry settings, for the stand-ins that build things.
machine=$work/machine
mkdir -p "$machine/ca" "$machine/cargo" "$machine/pip"
shopt -s nullglob
for cert in /usr/local/share/ca-certificates/*.crt /usr/local/share/ca-certificates/*/*.crt; do
    cp "$cert" "$machine/ca/"
done
# The first of each that exists, as cargo and pip would read it.
for config in "${CARGO_HOME:-$HOME/.cargo}"/config.toml "${CARGO_HOME:-$HOME/.cargo}"/config; do
    if [ -f "$config" ]; then cp "$config" "$machine/cargo/config.toml"; break; fi
done
for config in "${PIP_CONFIG_FILE:-}" "${XDG_CONFIG_HOME:-$HOME/.config}/pip/pip.conf" \
    "$HOME/.pip/pip.conf" /etc/pip.conf; do
    if [ -f "$config" ]; then cp "$config" "$machine/pip/pip.conf"; break; fi
done
shopt -u nullglob

if ! have "$DEBIAN_IMAGE"; then
    say "Base image $DEBIAN_IMAGE: debootstrap --variant=minbase bookworm (about a minute)"
    rootfs=$work/rootfs
    quiet debootstrap --variant=minbase bookworm "$rootfs"
    # The sources the real image has, in its deb822 file.
    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | quiet podman import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' - "$DEBIAN_IMAGE"
fi

if ! have "$RUST_IMAGE"; then
    sysroot=$(rustc --print sysroot 2>/dev/null) || die "the rust stand-in needs this machine's Rust toolchain (rustc)"
    version=$(rustc --version | cut -d' ' -f2)
    [ "$version" = 1.95.0 ] || die "the rust:1.95 stand-in needs Rust 1.95.0 on this machine, not $version"
    triple=$(rustc -vV | sed -n 's/^host: //p')
    say "Base image $RUST_IMAGE: Rust $version from this machine (about two minutes)"
    quiet podman build --pull=never --format docker --tag "$RUST_IMAGE" \
        --volume "$sysroot:/machine/toolchain:ro" --volume "$machine:/machine/settings:ro" \
        --build-arg "TOOLCHAIN=$version-$triple" --build-arg "RUST_VERSION=$version" \
        --file "$HERE/rust.Containerfile" "$work"
fi

if ! have "$PYTHON_IMAGE"; then
    python=$(command -v python3.11) || die "the python:3.11 stand-in needs CPython 3.11 on this machine (python3.11)"
    prefix=$("$python" -c 'import sys; print(sys.base_prefix)')
    version=$("$python" -c 'import platform; print(platform.python_version())')
    say "Base image $PYTHON_IMAGE: CPython $version from this machine"
    quiet podman build --pull=never --format docker --tag "$PYTHON_IMAGE" \
        --volume "$prefix:/machine/python:ro" --volume "$machine:/machine/settings:ro" \
        --build-arg "PYTHON_VERSION=$version" \
        --file "$HERE/python.Containerfile" "$work"
fi
