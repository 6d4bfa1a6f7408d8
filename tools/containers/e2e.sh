#!/usr/bin/env bash
# `just e2e-containers`: the bookstore in real containers, with podman.
#   1. the local base images (base-images.sh) and the project's images (build-images.sh);
#   2. compose.yaml up, service by service once each dependency is healthy; the notes'
#      integration test through each marketplace's published port, a gRPC call through
#      each server's, and the marketplaces reaching `recommendations` by name;
#   3. deploy/overlays/dev rendered by kustomize and played by `podman kube play`;
#   4. everything down again, and the machine's firewall and IP forwarding as they were,
#      whether the run passed or not.
# `e2e.sh --build-only` stops after the images.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
containers_env

PROJECT=bookstore-e2e
KUBE_NETWORK=bookstore-e2e-kube
VENV_PYTHON=$REPO/python/.venv/bin/python
HEALTHY_WITHIN=90
started=$SECONDS
phase_started=$SECONDS
timings=()
phase() {
    timings+=("$(printf '%-34s %4d s' "$1" $((SECONDS - phase_started)))")
    phase_started=$SECONDS
}

compose() { "$PODMAN_COMPOSE" --project-name "$PROJECT" --file "$COMPOSE_FILE" "$@"; }

# Everything in the project's own container store goes: this run's and any a
# killed run left. The machine's other containers live in another store.
teardown() {
    local status=$?
    trap - EXIT INT TERM
    if [ "$status" -ne 0 ]; then say "Failed; tearing down"; else say "Tearing down"; fi
    if [ -f "$COMPOSE_FILE" ] && [ -x "$PODMAN_COMPOSE" ]; then
        compose --profile python-server down --timeout 2 >/dev/null 2>&1 || true
    fi
    if [ -s "$STATE/kube.yaml" ]; then
        podman kube down "$STATE/kube.yaml" >/dev/null 2>&1 || true
        rm -f "$STATE/kube.yaml"
    fi
    podman pod rm --all --force >/dev/null 2>&1 || true
    podman rm --all --force --time 2 >/dev/null 2>&1 || true
    podman network prune --force >/dev/null 2>&1 || true
    local left
    left=$(podman ps --all --quiet; podman pod ps --quiet; podman network ls --quiet --filter name="$PROJECT")
    if [ -n "$left" ]; then
        echo "error: podman still lists: $left" >&2
        [ "$status" -ne 0 ] || status=1
    fi
    # Last: podman itself would make netavark's run-time folder again.
    host_state_restore
    if [ "$status" -eq 0 ]; then
        printf '    %s\n' "${timings[@]}" >&2
        say "e2e-containers passed in $((SECONDS - started)) s"
    fi
    exit "$status"
}

# A run that was killed may have left its containers, and the firewall as it made it.
if [ -d "$HOST_STATE" ]; then
    say "Cleaning up after an earlier run that did not finish"
    podman pod rm --all --force >/dev/null 2>&1 || true
    podman rm --all --force --time 2 >/dev/null 2>&1 || true
    podman network prune --force >/dev/null 2>&1 || true
    host_state_restore
fi
host_state_save
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$HERE/base-images.sh"
phase "base images (skipped when present)"
"$HERE/build-images.sh"
phase "project images"
if [ "${1:-}" = --build-only ]; then exit 0; fi

[ -x "$VENV_PYTHON" ] || die "python/.venv is missing: run through 'just e2e-containers'"
check() {
    PYTHONPATH=$REPO/python/tests "$VENV_PYTHON" "$HERE/check.py" "$@"
}

# compose.yaml publishes fixed ports: say which is taken rather than fail half-way.
ports=$("$STATE/compose/bin/python" "$HERE/compose.py" ports "$COMPOSE_FILE")
for port in $ports; do
    if ! "$VENV_PYTHON" -c 'import socket, sys; socket.create_server(("", int(sys.argv[1])))' "$port" 2>/dev/null; then
        die "port $port, which compose.yaml publishes, is in use (is 'just up' running?)"
    fi
done

container_of() {
    podman ps --all --filter "label=io.podman.compose.project=$PROJECT" \
        --filter "label=com.docker.compose.service=$1" --format '{{.Names}}' | awk 'NR == 1'
}

# Health checks do not run by themselves here (podman schedules them with
# systemd timers), and podman-compose ignores `condition: service_healthy`:
# run each container's HEALTHCHECK until it passes.
wait_healthy() {
    local service name deadline
    for service in "$@"; do
        name=$(container_of "$service")
        [ -n "$name" ] || die "compose started no container for $service"
        deadline=$((SECONDS + HEALTHY_WITHIN))
        until podman healthcheck run "$name" >/dev/null 2>&1; do
            if [ "$(podman inspect --format '{{.State.Running}}' "$name")" != true ] \
                || [ "$SECONDS" -ge "$deadline" ]; then
                podman logs --tail 30 "$name" >&2 || true
                die "$service ($name) did not become healthy within $HEALTHY_WITHIN s"
            fi
            sleep 1
        done
        echo "    $service healthy" >&2
    done
}

# Up in dependency order: the servers, then the marketplaces without their
# dependencies (already up), as `depends_on: condition: service_healthy` means.
up() { quiet compose --profile python-server up --detach --no-build "$@"; }
say "compose.yaml up (project $PROJECT)"
up recommendations python-recommendations
wait_healthy recommendations python-recommendations
up --no-deps marketplace flask-marketplace flask-on-python-server
wait_healthy marketplace flask-marketplace flask-on-python-server
phase "compose up, healthy"

say "Checks through the published ports"
check page http://localhost:5000/
check page http://localhost:5001/
check page http://localhost:5002/
check grpc localhost:50051
check grpc localhost:50052
# The pages above came through `recommendations` and `python-recommendations`,
# the names the marketplaces were given; the network resolves them.
network=$(podman inspect --format '{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}' \
    "$(container_of marketplace)")
[[ " $network " == *" ${PROJECT}_microservices "* ]] \
    || die "the marketplace is on '$network', not ${PROJECT}_microservices"
for service in marketplace flask-marketplace; do
    env=$(podman inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$(container_of "$service")")
    grep -qx 'RECOMMENDATIONS_HOST=recommendations' <<<"$env" \
        || die "$service is not configured with RECOMMENDATIONS_HOST=recommendations"
done
resolved=$(podman exec "$(container_of flask-marketplace)" python -c \
    'import socket; print(socket.getaddrinfo("recommendations", 50051)[0][4][0])')
echo "    on ${PROJECT}_microservices, 'recommendations' is $resolved" >&2
phase "checks through compose"

say "compose.yaml down"
quiet compose --profile python-server down --timeout 2
phase "compose down"

kubectl=$REPO/python/.venv/bin/kubectl
[ -x "$kubectl" ] || kubectl=$(command -v kubectl || true)
if [ -z "$kubectl" ]; then
    say "Skipping deploy/: no kubectl to render it (python/.venv's or the machine's)"
else
    say "deploy/overlays/dev: podman kube play"
    "$kubectl" kustomize "$REPO/deploy/overlays/dev" >"$STATE/kube.yaml"
    quiet podman network create "$KUBE_NETWORK"
    quiet podman kube play --network "$KUBE_NETWORK" "$STATE/kube.yaml"
    pod_ip() {
        local pod
        pod=$(podman pod ps --filter "label=app=$1" --format '{{.Name}}' | awk 'NR == 1')
        podman pod inspect --format '{{.InfraContainerID}}' "$pod" \
            | xargs podman inspect --format "{{(index .NetworkSettings.Networks \"$KUBE_NETWORK\").IPAddress}}"
    }
    # Each pod runs as its template says: the image, env, user and read-only root.
    for app in recommendations marketplace flask-marketplace; do
        pod=$(podman pod ps --filter "label=app=$app" --format '{{.Name}}' | awk 'NR == 1')
        [ -n "$pod" ] || die "kube play started no pod for the $app Deployment"
        for container in $(podman ps --filter "pod=$pod" --format '{{.Names}}' | grep -v -- '-infra$'); do
            settings=$(podman inspect --format '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}}' "$container")
            [ "$settings" = "10001:10001 true" ] || [ "$settings" = "10001 true" ] \
                || die "$container runs with user and read-only root '$settings', not '10001 true'"
        done
    done
    check grpc "$(pod_ip recommendations):50051"
    check answers "http://$(pod_ip marketplace):5000/healthz"
    # kube play makes nothing of Services, so `recommendations` has no address
    # there: the Flask pod answers, with its 503 page.
    check answers "http://$(pod_ip flask-marketplace):5001/"
    quiet podman kube down "$STATE/kube.yaml"
    rm -f "$STATE/kube.yaml"
    phase "kube play"
fi
