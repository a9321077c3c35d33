"""The shape-trace example runs in smoke mode (tests/test_bench.py runs the benchmark's)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_example_runs_in_smoke_mode(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["trace_model.py", "--smoke", "--out", str(tmp_path)])
    runpy.run_path(str(ROOT / "examples" / "trace_model.py"), run_name="__main__")
    assert (tmp_path / "trace_vgg_bn.svg").read_text(encoding="utf-8").lstrip().startswith("<svg")
    printed = capsys.readouterr().out
    # block3's 36x36 window at stride 8, effective padding 14: the corner reaches into the padding.
    assert "effective padding (14, 14)" in printed
    assert "block3 (0, 0) sees rows -14..21, columns -14..21; of the image: rows 0..21" in printed
    assert "Params %" in printed and "Kept for backward" in printed
    csv = (tmp_path / "trace_vgg_bn.csv").read_text(encoding="utf-8").splitlines()
    assert csv[0] == "path,output_shape,params,param_share,saved_bytes,receptive_field,effective_padding"
    assert csv[3].startswith("block3,\"(None, 4, 4, 128)\",") and csv[3].endswith(",36x36,14x14")
