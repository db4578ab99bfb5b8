"""Without the real-data folder, the tests that need it skip and say why; none errors.

Runs pytest in a subprocess with ``PML_WORKBENCH_SHARED_DATA`` pointing at an empty folder, on
modules that parametrize from the data's manifest at collection time (the place where a
missing folder once stopped the whole run with "1 error ... Interrupted").
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import SHARED_DATA_ENV

ROOT = Path(__file__).resolve().parents[1]
MODULES = ["tests/imaging/test_nifti.py", "tests/imaging/test_reference_match.py"]


def test_data_tests_skip_with_the_reason_when_the_folder_is_empty(tmp_path: Path) -> None:
    empty = tmp_path / "no-shared-data"
    empty.mkdir()
    env = {**os.environ, SHARED_DATA_ENV: str(empty), "QT_QPA_PLATFORM": "offscreen"}
    env.pop("CI", None)  # the skip-not-fail behaviour off CI is what is checked here
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *MODULES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "skipped" in output, output
    assert "error" not in output.lower(), output
    assert f"real scanner data not found: {empty} has no manifest.json" in output, output
