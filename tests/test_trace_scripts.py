"""The shape-trace example runs in smoke mode (tests/test_bench.py runs the benchmark's)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_example_runs_in_smoke_mode(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["trace_model.py", "--smoke", "--out", str(tmp_path)])
    runpy.run_path(str(ROOT / "examples" / "trace_model.py"), run_name="__main__")
    assert (tmp_path / "trace_vgg_bn.svg").read_text(encoding="utf-8").lstrip().startswith("<svg")
