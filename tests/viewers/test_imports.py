"""The model layer runs without a screen: no Qt, and SimpleITK only when it is used."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "viewers",
    "viewers.bench",
    "viewers.compositor",
    "viewers.events",
    "viewers.geometry",
    "viewers.image",
    "viewers.interaction",
    "viewers.layout",
    "viewers.linking",
    "viewers.registration",
    "viewers.view",
    "viewers.window",
]


def test_core_modules_import_neither_qt_nor_simpleitk():
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in CORE)
        + "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'PyQt6', 'SimpleITK'})\n"
        + "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""
