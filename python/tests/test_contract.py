"""The contract stays the notes' contract: buf lint passes, and buf breaking
catches a change that would break the notes' clients."""

import shutil
import subprocess
from pathlib import Path

import pytest
from processes import BUF, REPO

BASELINE = REPO / "proto/baseline/notes-recommendations.binpb"
PROTO = REPO / "proto/recommendations.proto"


def breaking(module: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BUF, "breaking", module, "--against", BASELINE],
        capture_output=True,
        text=True,
        check=False,
        cwd=module,
    )


@pytest.fixture
def scratch_module(tmp_path: Path) -> Path:
    """A copy of the contract in a module of its own, free to be broken."""
    module = tmp_path / "proto"
    module.mkdir()
    shutil.copy(PROTO, module / "recommendations.proto")
    (module / "buf.yaml").write_text("version: v2\nbreaking:\n  use:\n    - FILE\n")
    return module


def edit(module: Path, old: str, new: str) -> None:
    path = module / "recommendations.proto"
    text = path.read_text()
    assert old in text, f"{old!r} is not in the contract any more"
    path.write_text(text.replace(old, new))


def test_the_unchanged_contract_is_compatible_with_the_notes(scratch_module: Path) -> None:
    result = breaking(scratch_module)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_changed_field_number_is_caught(scratch_module: Path) -> None:
    edit(scratch_module, "int32 max_results = 3;", "int32 max_results = 4;")
    result = breaking(scratch_module)
    assert result.returncode == 100, result.stdout + result.stderr
    assert "max_results" in result.stdout


def test_a_changed_field_type_is_caught(scratch_module: Path) -> None:
    edit(scratch_module, "int32 user_id = 1;", "string user_id = 1;")
    result = breaking(scratch_module)
    assert result.returncode == 100, result.stdout + result.stderr
    assert 'changed type from "int32" to "string"' in result.stdout


def test_a_renamed_service_is_caught(scratch_module: Path) -> None:
    edit(scratch_module, "service Recommendations {", "service RecommendationsService {")
    result = breaking(scratch_module)
    assert result.returncode == 100, result.stdout + result.stderr
    assert "Recommendations" in result.stdout
