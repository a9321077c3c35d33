"""The shape-trace example and benchmark run in smoke mode."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_example_and_bench_run_in_smoke_mode(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["trace_model.py", "--smoke", "--out", str(tmp_path)])
    runpy.run_path(str(ROOT / "examples" / "trace_model.py"), run_name="__main__")
    assert (tmp_path / "trace_vgg_bn.svg").read_text(encoding="utf-8").lstrip().startswith("<svg")
    monkeypatch.setattr(sys, "argv", ["bench_trace.py", "--smoke"])
    runpy.run_path(str(ROOT / "bench" / "bench_trace.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "| layers |" in out and "bench/bench_trace.py --smoke" in out
