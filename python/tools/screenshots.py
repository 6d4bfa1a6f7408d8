"""Screenshots of both marketplaces' homepages into docs/, in headless Chromium.

Starts the real Recommendations server (target/debug/recommendations), the axum
marketplace and the notes' Flask marketplace on free ports, with the same helpers
the tests start them with, and waits for the addresses they log. Run with
`just screenshots`, which builds the binaries and installs chromium first.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

# The test helpers that start the programs and wait until they serve live beside the tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from marketplaces import start_axum_marketplace, start_flask_marketplace
from processes import REPO, start_recommendations

DOCS = REPO / "docs"


def screenshot(url: str, png: str, profile: Path) -> None:
    """Saves what headless Chromium shows at `url` in an 1100x800 window as `png` (in the repo)."""
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--window-size=1100,800",
            f"--screenshot={png}",
            url,
        ],
        stderr=subprocess.DEVNULL,
        check=True,
        cwd=REPO,
    )


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as scratch,
        start_recommendations() as server,
        start_axum_marketplace(server) as axum,
        start_flask_marketplace(server) as flask,
    ):
        profile = Path(scratch) / "chromium"
        for name, marketplace in [("axum-marketplace", axum), ("flask-marketplace", flask)]:
            png = f"docs/{name}.png"
            screenshot(f"http://{marketplace.address}/", png, profile)
            print(f"{png}: {(REPO / png).stat().st_size} bytes")


if __name__ == "__main__":
    main()
