"""What the container scripts need to know of compose.yaml.

    compose.py images FILE   `image<TAB>dockerfile<TAB>context`, once for each image it builds
    compose.py ports FILE    each host port it publishes, one a line

Run with the podman-compose environment's Python (it has PyYAML).
"""

import sys
from pathlib import Path

import yaml

what, compose_file = sys.argv[1], Path(sys.argv[2])
services = yaml.safe_load(compose_file.read_text())["services"]
if what == "ports":
    for service in services.values():
        for port in service.get("ports", []):
            # "HOST:CONTAINER", "IP:HOST:CONTAINER" or the long form; the short
            # form without a host port publishes on a random one.
            if isinstance(port, dict):
                published = port.get("published")
            else:
                parts = str(port).split("/")[0].split(":")
                published = parts[-2] if len(parts) > 1 else None
            if published:
                print(published)
    sys.exit(0)
seen = set()
for name, service in services.items():
    build = service.get("build")
    if build is None:
        continue
    if isinstance(build, str):
        build = {"context": build}
    image = service.get("image") or f"{name}:latest"
    if image in seen:
        continue
    seen.add(image)
    context = (compose_file.parent / build.get("context", ".")).resolve()
    dockerfile = context / build.get("dockerfile", "Dockerfile")
    print(f"{image}\t{dockerfile}\t{context}")
