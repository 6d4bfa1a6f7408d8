"""The container and deployment files agree with the programs they run.

The Dockerfiles, compose.yaml and the manifests kustomize renders from deploy/
name binaries, ports, health checks and environment variables; these tests read
them and check each against what the programs accept: the Rust binaries' `--help`
(so `just build` first) and the Python apps' environment reads. The schemas and
hadolint are `just lint-deploy`'s part; this is the part no schema knows.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml
from marketplaces import (
    MARKETPLACE_BIN,
    get,
    start_axum_marketplace,
    start_flask_marketplace,
    start_python_recommendations,
)
from processes import RECOMMENDATIONS_BIN, REPO, start_process, start_recommendations

PYTHON = REPO / "python"
KUBECTL = Path(sys.executable).parent / "kubectl"
# The base images, by the exact names `just e2e-containers` gives its local stand-ins.
BASE_IMAGES = {"rust:1.95-bookworm", "debian:bookworm-slim", "python:3.11-slim-bookworm"}
# Dockerfile -> (the program it runs, the compose service that builds it).
RUST_IMAGES = {
    "rust/server/Dockerfile": RECOMMENDATIONS_BIN,
    "rust/marketplace/Dockerfile": MARKETPLACE_BIN,
}
PYTHON_IMAGES = {
    "python/marketplace/Dockerfile": PYTHON / "marketplace" / "marketplace.py",
    "python/recommendations/Dockerfile": PYTHON / "recommendations" / "recommendations.py",
}
DOCKERFILES = [*RUST_IMAGES, *PYTHON_IMAGES]


@dataclass(frozen=True)
class Dockerfile:
    """The instructions of one Dockerfile, continuation lines joined."""

    path: str
    instructions: list[tuple[str, str]]

    def all(self, keyword: str) -> list[str]:
        return [args for name, args in self.instructions if name == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"{self.path} has no {keyword}"
        return found[-1]

    def exec_form(self, keyword: str) -> list[str]:
        """The JSON array of the last `keyword` (ENTRYPOINT, CMD, HEALTHCHECK ... CMD)."""
        args = self.last(keyword)
        return json.loads(args[args.index("[") :])

    def runtime_stage(self) -> Dockerfile:
        """The instructions from the last FROM on: what the image itself holds."""
        starts = [i for i, (name, _) in enumerate(self.instructions) if name == "FROM"]
        return Dockerfile(self.path, self.instructions[starts[-1] :])


@cache
def dockerfile(path: str) -> Dockerfile:
    text = (REPO / path).read_text()
    logical = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    instructions = []
    for line in logical.splitlines():
        if line.strip():
            keyword, _, args = line.strip().partition(" ")
            instructions.append((keyword.upper(), " ".join(args.split())))
    return Dockerfile(path, instructions)


@cache
def rust_help(binary: Path, *subcommand: str) -> str:
    if not binary.exists():
        raise FileNotFoundError(f"{binary} is missing: run `just build` first")
    result = subprocess.run(
        [binary, *subcommand, "--help"], capture_output=True, text=True, check=True
    )
    return result.stdout


def rust_envs(binary: Path) -> set[str]:
    return set(re.findall(r"\[env: ([A-Z0-9_]+)=", rust_help(binary)))


def rust_default_port(binary: Path) -> int:
    """The port of `--listen`'s default, e.g. 50051 from `[default: [::]:50051]`."""
    match = re.search(r"--listen <\w+>\n(?:.*\n)*?.*\[default: \S+:(\d+)\]", rust_help(binary))
    assert match, binary
    return int(match.group(1))


@cache
def python_envs(source: Path) -> set[str]:
    """Names the app reads with os.getenv / os.environ.get, directly or through a
    helper of its own that passes its first parameter on (marketplace's read_pem)."""
    tree = ast.parse(source.read_text())

    def is_getenv(call: ast.AST) -> bool:
        return isinstance(call, ast.Call) and ast.unparse(call.func) in {
            "os.getenv",
            "os.environ.get",
        }

    readers = {"os.getenv", "os.environ.get"}
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef) and function.args.args:
            first = function.args.args[0].arg
            for call in ast.walk(function):
                if is_getenv(call) and ast.unparse(call.args[0]) == first:
                    readers.add(function.name)
    return {
        call.args[0].value
        for call in ast.walk(tree)
        if isinstance(call, ast.Call)
        and ast.unparse(call.func) in readers
        and call.args
        and isinstance(call.args[0], ast.Constant)
        and isinstance(call.args[0].value, str)
    }


def accepted_envs(path: str) -> set[str]:
    if path in RUST_IMAGES:
        return rust_envs(RUST_IMAGES[path]) | {"RUST_LOG"}
    return python_envs(PYTHON_IMAGES[path])


def exposed_port(path: str) -> int:
    (port,) = dockerfile(path).runtime_stage().all("EXPOSE")
    return int(port)


@cache
def compose() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text())


def compose_services() -> dict[str, dict]:
    return compose()["services"]


def image_name(image: str) -> str:
    return image.rsplit(":", 1)[0]


def dockerfile_of_image() -> dict[str, str]:
    """compose's image names (without tag) -> the Dockerfile that builds them."""
    return {
        image_name(service["image"]): service["build"]["dockerfile"]
        for service in compose_services().values()
    }


@cache
def rendered(overlay: str) -> list[dict]:
    result = subprocess.run(
        [KUBECTL, "kustomize", REPO / overlay], capture_output=True, text=True, check=True
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


OVERLAYS = [
    "deploy/base",
    *sorted(str(path.relative_to(REPO)) for path in (REPO / "deploy/overlays").iterdir()),
]


def of_kind(overlay: str, kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in rendered(overlay) if doc["kind"] == kind}


def containers(overlay: str) -> list[tuple[dict, dict, str]]:
    """(deployment, container, the Dockerfile of its image) for every container."""
    images = dockerfile_of_image()
    found = []
    for deployment in of_kind(overlay, "Deployment").values():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            found.append((deployment, container, images[image_name(container["image"])]))
    return found


# The images.


@pytest.mark.parametrize("path", DOCKERFILES)
def test_images_build_from_the_pinned_bases_and_copy_only_what_exists(path: str) -> None:
    file = dockerfile(path)
    bases = {args.split()[0] for args in file.all("FROM")}
    assert bases <= BASE_IMAGES, bases
    for args in file.all("COPY"):
        if "--from=" not in args:
            *sources, _ = shlex.split(args)
            for source in sources:
                assert (REPO / source).exists(), f"{path}: COPY {source}"


@pytest.mark.parametrize("path", DOCKERFILES)
def test_images_run_as_a_numeric_non_root_user(path: str) -> None:
    user, _, group = dockerfile(path).runtime_stage().last("USER").partition(":")
    assert int(user) > 0
    assert int(group) > 0


@pytest.mark.parametrize("path", list(RUST_IMAGES))
def test_rust_images_build_and_run_the_binary_the_crate_defines(path: str) -> None:
    file = dockerfile(path)
    (entrypoint,) = file.exec_form("ENTRYPOINT")
    binary = Path(entrypoint).name
    assert binary == RUST_IMAGES[path].name
    # Built by the profile-guided build, straight into the entrypoint's folder.
    (build,) = [
        args
        for args in file.all("RUN")
        if "tools/pgo/build.sh" in args and "--missing-llvm-package" not in args
    ]
    assert build.endswith(f"tools/pgo/build.sh {Path(entrypoint).parent} {binary}")
    manifest = tomllib.loads((REPO / Path(path).parent / "Cargo.toml").read_text())
    assert binary in [target["name"] for target in manifest["bin"]]
    # ... which builds it, locked and in release, from the crate that defines it.
    script = (REPO / "tools/pgo/build.sh").read_text()
    package = manifest["package"]["name"]
    assert f"-p {package} --bin {binary}" in script
    assert re.search(r'-Cprofile-use=\$profile" cargo build --release --locked', script)


@pytest.mark.parametrize("path", list(RUST_IMAGES))
def test_rust_images_expose_the_default_listen_port(path: str) -> None:
    assert exposed_port(path) == rust_default_port(RUST_IMAGES[path])


@pytest.mark.parametrize("path", list(RUST_IMAGES))
def test_rust_health_checks_call_the_binarys_own_healthcheck(path: str) -> None:
    (entrypoint,) = dockerfile(path).exec_form("ENTRYPOINT")
    command = dockerfile(path).exec_form("HEALTHCHECK")
    assert command == [entrypoint, "healthcheck"]
    assert "--addr" in rust_help(RUST_IMAGES[path], "healthcheck")


def test_the_recommendations_healthcheck_answers_for_a_serving_server() -> None:
    with start_recommendations() as server:
        _, port = server.address.rsplit(":", 1)
        # As in the image: no flags, the port taken from RECOMMENDATIONS_LISTEN.
        result = subprocess.run(
            [RECOMMENDATIONS_BIN, "healthcheck"],
            env={"RECOMMENDATIONS_LISTEN": f"[::]:{port}"},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"127.0.0.1:{port}: SERVING\n"
        unknown = subprocess.run(
            [RECOMMENDATIONS_BIN, "healthcheck", "--addr", server.address, "--service", "nope"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert unknown.returncode == 1
        assert "unhealthy" in unknown.stderr
    stopped = subprocess.run(
        [RECOMMENDATIONS_BIN, "healthcheck", "--addr", server.address],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert stopped.returncode == 1
    assert f"unhealthy: {server.address} did not answer" in stopped.stderr


def test_the_marketplace_healthcheck_answers_for_a_running_marketplace() -> None:
    with start_recommendations() as server, start_axum_marketplace(server) as marketplace:
        result = subprocess.run(
            [MARKETPLACE_BIN, "healthcheck", "--addr", marketplace.address],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    stopped = subprocess.run(
        [MARKETPLACE_BIN, "healthcheck", "--addr", marketplace.address, "--timeout-ms", "500"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert stopped.returncode == 1
    assert "unhealthy: GET" in stopped.stderr


def python_health_check(path: str, port: str) -> subprocess.CompletedProcess[str]:
    """Runs the image's HEALTHCHECK one-liner here, pointed at `port`."""
    program, flag, code = dockerfile(path).exec_form("HEALTHCHECK")
    assert (program, flag) == ("python", "-c")
    default = str(exposed_port(path))
    assert default in code
    return subprocess.run(
        [sys.executable, "-c", code.replace(default, port)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_the_python_server_images_health_check_asks_grpc_health() -> None:
    path = "python/recommendations/Dockerfile"
    with start_python_recommendations() as server:
        _, port = server.address.rsplit(":", 1)
        assert python_health_check(path, port).returncode == 0
    assert python_health_check(path, port).returncode == 1


def test_the_flask_images_health_check_needs_only_the_web_server() -> None:
    path = "python/marketplace/Dockerfile"
    with start_recommendations() as server, start_flask_marketplace(server) as flask:
        _, port = flask.address.rsplit(":", 1)
        assert python_health_check(path, port).returncode == 0, "up"
        server.stop()
        # Recommendations down: the page is a 503, the web server still healthy.
        assert get(f"http://{flask.address}/").status == 503
        assert python_health_check(path, port).returncode == 0, "Recommendations down"
    assert python_health_check(path, port).returncode == 1, "stopped"


def test_the_python_server_image_exposes_the_servers_default_port() -> None:
    path = "python/recommendations/Dockerfile"
    assert dockerfile(path).exec_form("CMD") == ["python", "recommendations.py"]
    source = (PYTHON / "recommendations" / "recommendations.py").read_text()
    default = re.search(r'os\.getenv\("RECOMMENDATIONS_LISTEN", "\S+:(\d+)"\)', source)
    assert int(default.group(1)) == exposed_port(path)


def test_the_flask_image_serves_the_notes_app_with_gunicorn() -> None:
    path = "python/marketplace/Dockerfile"
    command = dockerfile(path).exec_form("CMD")
    assert command[0] == "gunicorn"
    bind = command[command.index("--bind") + 1]
    assert bind == f"0.0.0.0:{exposed_port(path)}"
    with start_recommendations() as server:
        host, port = server.address.rsplit(":", 1)
        # The image's own command, on a free port, in the directory the image runs it from.
        argv = [Path(sys.executable).parent / command[0], *command[1:]]
        argv[argv.index(bind)] = "127.0.0.1:0"
        with start_process(
            argv,
            r"Listening at: http://(\S+)",
            env={
                "RECOMMENDATIONS_HOST": host,
                "RECOMMENDATIONS_PORT": port,
            },
            cwd=PYTHON / "marketplace",
            name="gunicorn",
        ) as gunicorn:
            page = get(f"http://{gunicorn.address}/")
            assert page.status == 200
            assert "Mystery books you may like" in page.html


# compose.yaml.


def test_compose_builds_every_image_from_the_repository_root() -> None:
    services = compose_services()
    built = {service["build"]["dockerfile"] for service in services.values()}
    assert built == set(DOCKERFILES)
    for name, service in services.items():
        assert service["build"]["context"] == ".", name
        assert service["init"] is True, name
        assert service["restart"], name
        assert service["networks"] == ["microservices"], name


@pytest.mark.parametrize("name", list(compose()["services"]))
def test_compose_environment_names_are_read_by_the_program(name: str) -> None:
    service = compose_services()[name]
    path = service["build"]["dockerfile"]
    unknown = set(service.get("environment", {})) - accepted_envs(path)
    assert not unknown, f"{name} sets {unknown}, which {path}'s program does not read"


@pytest.mark.parametrize("name", list(compose()["services"]))
def test_compose_publishes_the_exposed_port_and_names_real_services(name: str) -> None:
    services = compose_services()
    service = services[name]
    path = service["build"]["dockerfile"]
    for mapping in service["ports"]:
        assert int(mapping.rsplit(":", 1)[1]) == exposed_port(path)
    host = service.get("environment", {}).get("RECOMMENDATIONS_HOST")
    if host is not None:
        assert host in services
        assert service["depends_on"] == {host: {"condition": "service_healthy"}}
        upstream = services[host]["build"]["dockerfile"]
        port = int(service["environment"].get("RECOMMENDATIONS_PORT", 50051))
        assert port == exposed_port(upstream)
    for dependency in service.get("depends_on", {}):
        # service_healthy needs a HEALTHCHECK in the dependency's image.
        assert dockerfile(services[dependency]["build"]["dockerfile"]).all("HEALTHCHECK")


# deploy/, as kustomize renders each overlay.


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_manifest_env_names_are_read_by_the_program(overlay: str) -> None:
    for deployment, container, path in containers(overlay):
        unknown = {env["name"] for env in container.get("env", [])} - accepted_envs(path)
        assert not unknown, f"{deployment['metadata']['name']} sets {unknown}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_manifest_ports_and_probes_match_the_images(overlay: str) -> None:
    for deployment, container, path in containers(overlay):
        name = deployment["metadata"]["name"]
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        main = exposed_port(path)
        assert main in ports.values(), name
        for probe in ("readinessProbe", "livenessProbe"):
            (kind, spec), *_ = (
                (k, v) for k, v in container[probe].items() if k in {"grpc", "httpGet", "tcpSocket"}
            )
            port = spec["port"]
            assert ports.get(port, port) == main, f"{name} {probe}"
            if kind == "httpGet":
                assert spec["path"] == "/healthz"
                assert "/healthz" in rust_help(MARKETPLACE_BIN)
            if kind == "grpc":
                assert path.startswith("rust/server"), "only the Rust server serves grpc health"
        pod = deployment["spec"]["template"]
        annotations = pod["metadata"].get("annotations", {})
        if annotations.get("prometheus.io/scrape") == "true":
            assert int(annotations["prometheus.io/port"]) in ports.values(), name
        uid = int(dockerfile(path).runtime_stage().last("USER").split(":")[0])
        assert pod["spec"]["securityContext"]["runAsUser"] == uid, name
        assert container["securityContext"]["runAsUser"] == uid, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_metrics_port_is_where_the_server_listens_for_metrics(overlay: str) -> None:
    (deployment, container, _), *_ = (
        found for found in containers(overlay) if found[2] == "rust/server/Dockerfile"
    )
    env = {entry["name"]: entry["value"] for entry in container["env"]}
    metrics_port = int(env["RECOMMENDATIONS_METRICS_LISTEN"].rsplit(":", 1)[1])
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports["metrics"] == metrics_port
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == metrics_port


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_marketplaces_reach_recommendations_through_its_headless_service(
    overlay: str,
) -> None:
    services = of_kind(overlay, "Service")
    recommendations = services["recommendations"]
    assert recommendations["spec"]["clusterIP"] == "None"
    (grpc_port,) = recommendations["spec"]["ports"]
    namespace = recommendations["metadata"].get("namespace")
    callers = set()
    for deployment, container, _ in containers(overlay):
        env = {entry["name"]: entry.get("value") for entry in container.get("env", [])}
        if "RECOMMENDATIONS_URL" in env:
            match = re.fullmatch(r"dns:///([^:/]+):(\d+)", env["RECOMMENDATIONS_URL"])
            assert match, env["RECOMMENDATIONS_URL"]
            host, port = match.groups()
            short = {"recommendations", f"recommendations.{namespace}.svc.cluster.local"}
            assert host in short, host
        elif "RECOMMENDATIONS_HOST" in env:
            host, port = env["RECOMMENDATIONS_HOST"], env.get("RECOMMENDATIONS_PORT", "50051")
            assert host == "recommendations"
        else:
            continue
        assert int(port) == grpc_port["port"]
        callers.add(deployment["spec"]["template"]["metadata"]["labels"]["app"])
    # The NetworkPolicy lets exactly these callers reach the gRPC port.
    policy = of_kind(overlay, "NetworkPolicy")["recommendations"]
    (grpc_rule,) = [
        rule for rule in policy["spec"]["ingress"] if rule["ports"][0]["port"] == "grpc"
    ]
    (peer,) = grpc_rule["from"]
    (expression,) = peer["podSelector"]["matchExpressions"]
    assert expression["key"] == "app"
    assert set(expression["values"]) == callers
    assert callers == {"marketplace", "flask-marketplace"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_select_their_pods_and_target_named_ports(overlay: str) -> None:
    deployments = of_kind(overlay, "Deployment")
    for name, service in of_kind(overlay, "Service").items():
        pod = deployments[name]["spec"]["template"]
        assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
        names = {port["name"] for c in pod["spec"]["containers"] for port in c["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in names, name


# The images' Python requirements.


def test_requirements_pin_exactly_the_locked_runtime_packages() -> None:
    lock = tomllib.loads((PYTHON / "uv.lock").read_text())
    locked = {package["name"]: package["version"] for package in lock["package"]}
    text = (PYTHON / "requirements.txt").read_text()
    pinned = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+)", text, flags=re.MULTILINE))
    for name, version in pinned.items():
        assert locked.get(name) == version, f"{name}=={version}: run `just requirements`"
    pyproject = tomllib.loads((PYTHON / "pyproject.toml").read_text())
    sdk = tomllib.loads((PYTHON / "sdk" / "pyproject.toml").read_text())["project"]
    # The client distribution is built from python/sdk in the images, not downloaded:
    # it stays out, and its own dependencies are in.
    local = set(pyproject["tool"]["uv"]["sources"])
    assert local == {sdk["name"]}
    assert sdk["name"] not in pinned
    runtime = {
        re.split(r"[=<>~!]", requirement)[0]
        for requirement in [*pyproject["project"]["dependencies"], *sdk["dependencies"]]
    }
    assert runtime - local <= pinned.keys()
    assert "pytest" not in pinned, "development packages stay out of the images"
    assert "hatchling" not in pinned, "the build backend stays in the images' first stage"
    assert "--hash=sha256:" in text


def test_the_images_build_the_client_with_the_backend_its_pyproject_pins() -> None:
    lock = tomllib.loads((PYTHON / "uv.lock").read_text())
    locked = {package["name"]: package["version"] for package in lock["package"]}
    text = (PYTHON / "sdk-build-requirements.txt").read_text()
    pinned = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+)", text, flags=re.MULTILINE))
    for name, version in pinned.items():
        assert locked.get(name) == version, f"{name}=={version}: run `just requirements`"
    (backend,) = tomllib.loads((PYTHON / "sdk" / "pyproject.toml").read_text())["build-system"][
        "requires"
    ]
    name, version = backend.split("==")
    assert pinned[name] == version
    for path in PYTHON_IMAGES:
        runs = " ".join(dockerfile(path).all("RUN"))
        assert "--require-hashes -r sdk-build-requirements.txt" in runs, path
        assert "--no-build-isolation" in runs, path
