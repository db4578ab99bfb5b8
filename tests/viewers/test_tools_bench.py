"""The tool benchmark runs and returns rows the application's bench can print (no timing)."""

from __future__ import annotations

import math

from viewers.tools_bench import tool_benchmarks


def test_tool_benchmarks_return_complete_rows():
    rows = tool_benchmarks(repeat=3, size=64)
    assert len(rows) == 5
    for row in rows:
        assert set(row) == {"name", "value", "unit", "peer", "peer_value", "ratio", "target"}
        assert row["unit"] == "ms"
        assert math.isfinite(row["value"])
        assert row["value"] > 0
        assert row["peer_value"] > 0
        assert row["ratio"] == row["value"] / row["peer_value"]
    targets = {row["target"] for row in rows}
    assert {"≤ 150 ms", "≤ 5 ms"} <= targets
