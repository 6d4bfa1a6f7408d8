#!/usr/bin/env bash
# Installs the container engine from Debian (podman with runc, netavark,
# aardvark-dns, iptables for its port forwarding, nftables to restore the
# firewall afterwards, catatonit for `init: true`, debootstrap for the base
# image) and podman-compose, pinned, from PyPI into .tools/containers/compose.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

packages=(podman runc netavark aardvark-dns iptables nftables catatonit debootstrap)
commands=(podman runc /usr/lib/podman/netavark /usr/lib/podman/aardvark-dns iptables nft
    /usr/libexec/podman/catatonit debootstrap)
missing=0
for command in "${commands[@]}"; do
    command -v "$command" >/dev/null || missing=1
done
if [ "$missing" -ne 0 ]; then
    command -v apt-get >/dev/null || die "podman and friends are missing and this is no Debian: install ${packages[*]}"
    sudo=$([ "$(id -u)" -eq 0 ] || echo sudo)
    say "Installing ${packages[*]} (Debian)"
    quiet $sudo apt-get update -qq
    quiet $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${packages[@]}"
fi

if [ "$("$PODMAN_COMPOSE" --version 2>/dev/null | sed -n 's/^podman-compose version //p')" \
    != "$PODMAN_COMPOSE_VERSION" ]; then
    say "Installing podman-compose $PODMAN_COMPOSE_VERSION (PyPI)"
    rm -rf "$STATE/compose"
    quiet python3 -m venv "$STATE/compose"
    quiet "$STATE/compose/bin/python" -m pip install --quiet --disable-pip-version-check \
        "podman-compose==$PODMAN_COMPOSE_VERSION" "pyyaml==$PYYAML_VERSION" \
        "python-dotenv==$PYTHON_DOTENV_VERSION"
fi
