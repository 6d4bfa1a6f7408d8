#!/usr/bin/env bash
# Builds every image compose.yaml names, from the unchanged Dockerfiles, with the
# local base images only (--pull=never) and in docker format (the OCI format
# drops HEALTHCHECK). Layers and the Dockerfiles' cache mounts (cargo's registry
# and target/) stay in .tools/containers between runs.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
containers_env

[ -f "$COMPOSE_FILE" ] || die "no compose.yaml at the repository's root"
images=$("$STATE/compose/bin/python" "$HERE/compose.py" images "$COMPOSE_FILE")
[ -n "$images" ] || die "compose.yaml builds no image"
if [ ! -d "$TMPDIR/buildah-cache" ]; then
    say "The first build compiles every crate: the Rust images take about 10 minutes on 2 cores"
fi
while IFS=$'\t' read -r image dockerfile context; do
    say "Image $image (${dockerfile#"$REPO"/})"
    started=$SECONDS
    quiet podman build --pull=never --format docker --layers --tag "$image" \
        --file "$dockerfile" "$context"
    echo "    built in $((SECONDS - started)) s" >&2
done <<<"$images"
