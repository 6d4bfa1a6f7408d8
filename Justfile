# The bookstore: one contract (proto/), a Rust core and servers, Python clients.
# Every recipe installs what it needs into .tools/ and python/.venv (both
# git-ignored), at the versions pinned here and in the lock files.

set shell := ["bash", "-euo", "pipefail", "-c"]

root := justfile_directory()
tools := root / ".tools"
buf := tools / "npm/node_modules/.bin/buf"
uv := tools / "uv/bin/uv"
venv := root / "python/.venv"
server_bin := root / "target/debug/recommendations"
marketplace_bin := root / "target/debug/marketplace"
wheel_dir := root / "target/wheels"

buf_version := "1.75.0"
uv_version := "0.13.9"
prost_plugins_version := "0.5.0"

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
    PYTHONPATH={{ root }}/python/generated run flask \
        {{ venv }}/bin/flask --app {{ root }}/python/marketplace/marketplace.py run --port 5001
    # When one of them exits, the trap stops the others.
    wait -n "${pids[@]}"

# Run the notes' own Python Recommendations server on [::]:50051 (RECOMMENDATIONS_LISTEN overrides).
serve-python: _venv
    cd python/recommendations && PYTHONPATH={{ root }}/python/generated \
        {{ venv }}/bin/python recommendations.py

# Screenshots of both marketplaces' homepages into docs/ (installs Debian's chromium if missing).
screenshots: build _venv
    #!/usr/bin/env bash
    set -euo pipefail
    if ! command -v chromium >/dev/null; then
        # Debian's chromium package; a browser download of its own would not be pinned.
        sudo=$([ "$(id -u)" -eq 0 ] || echo sudo)
        $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium
    fi
    logs=$(mktemp -d)
    pids=()
    stop() { kill "${pids[@]}" 2>/dev/null || true; wait; rm -rf "$logs"; }
    trap stop EXIT
    # Starts a program on a free port; `address NAME PATTERN` waits for the address it logs.
    start() { local name=$1; shift; "$@" > "$logs/$name.log" 2>&1 & pids+=($!); }
    address() {
        for _ in $(seq 300); do
            grep -oP "$2" "$logs/$1.log" | head -n1 | grep . && return
            sleep 0.1
        done
        echo "$1 did not start:" >&2; cat "$logs/$1.log" >&2; return 1
    }
    start recommendations {{ server_bin }} --listen 127.0.0.1:0
    grpc=$(address recommendations 'listening addr=\K\S+')
    start marketplace {{ marketplace_bin }} --listen 127.0.0.1:0 --recommendations-url "http://$grpc"
    RECOMMENDATIONS_HOST=127.0.0.1 RECOMMENDATIONS_PORT=${grpc##*:} PYTHONPATH={{ root }}/python/generated \
        start flask {{ venv }}/bin/flask --app {{ root }}/python/marketplace/marketplace.py run --port 0
    axum=$(address marketplace 'listening addr=\K\S+')
    flask=$(address flask 'Running on http://\K\S+')
    mkdir -p docs
    for page in "axum-marketplace $axum" "flask-marketplace $flask"; do
        set -- $page
        chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
            --disable-background-networking --disable-component-update --disable-sync \
            --user-data-dir="$logs/chromium" --window-size=1100,800 \
            --screenshot="docs/$1.png" "http://$2/" 2>/dev/null
    done
    ls -l docs/*.png

# Build every Rust binary (debug).
build:
    cargo build --workspace --locked --bins

# Regenerate the Rust and Python code from proto/ with buf; commit the result.
gen: _buf _prost-plugins _venv
    {{ buf }} generate

# Everything CI runs: lints, the generated-code check, Rust tests and Python tests.
test: lint check-gen test-rust test-python

# Rust unit, integration and doc tests.
test-rust:
    cargo test --workspace --locked

# The pytest suite, against the real server binary and the recommender wheel.
test-python: build _wheel-installed _buf
    cd python && RECOMMENDATIONS_BIN={{ server_bin }} BUF={{ buf }} \
        BOOKSTORE_RECOMMENDER_WHEEL="$(echo {{ wheel_dir }}/bookstore_recommender-*.whl)" {{ venv }}/bin/pytest

# Lint Rust (rustfmt, clippy), the contract (buf lint, buf format, buf breaking) and Python (ruff, the wheel's stubs).
lint: _buf _venv stubtest
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

# Check the wheel's type stubs against the installed native module (mypy stubtest).
stubtest: _wheel-installed
    cd python && {{ venv }}/bin/python -m mypy.stubtest bookstore_recommender

# Time recommend() per call: the wheel, grpcio to the release server, and the notes' pure Python.
bench: _release-server _wheel-installed
    cd python && RECOMMENDATIONS_BIN={{ root }}/target/release/recommendations \
        {{ venv }}/bin/python bench/bench_recommend.py

# Fail when `just gen` would change the committed generated code.
check-gen: _buf _prost-plugins _venv
    #!/usr/bin/env bash
    set -euo pipefail
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    {{ buf }} generate --output "$scratch" 2>/dev/null
    stale=0
    for dir in rust/proto/src/gen python/generated; do
        diff -r "$scratch/$dir" "$dir" || stale=1
    done
    if [ "$stale" -ne 0 ]; then
        echo "Generated code is stale: run 'just gen' and commit the result." >&2
        exit 1
    fi
    echo "Generated code is up to date."

# Remove build output and installed tools.
clean:
    cargo clean
    rm -rf {{ tools }} {{ venv }}

# buf, pinned, from the npm registry.
_buf:
    #!/usr/bin/env bash
    set -euo pipefail
    if [ "$({{ buf }} --version 2>/dev/null)" != "{{ buf_version }}" ]; then
        npm install --prefix {{ tools }}/npm --no-save --no-audit --no-fund --loglevel=error \
            @bufbuild/buf@{{ buf_version }}
    fi

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

# The Recommendations server, optimised, for measurements.
_release-server:
    cargo build --release --locked --bin recommendations

# The freshly built wheel in python/.venv too; after `uv sync`, which removes what the lock lacks.
_wheel-installed: _venv wheel
    {{ uv }} pip install --quiet --python {{ venv }}/bin/python --reinstall --no-deps --no-index \
        {{ wheel_dir }}/bookstore_recommender-*.whl
