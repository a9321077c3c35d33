"""preview_augmentation, the example script and the benchmark's smoke run."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_cnnlab import load_dataset
from keras_cnnlab.augment import augmentation_preset, augmented_copies, preview_augmentation

ROOT = Path(__file__).resolve().parent.parent


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_augmented_copies_are_distinct_and_reproducible():
    image = load_dataset("digits", limit=50).x_train[0]  # (8, 8, 1)
    # Continuous factors: the 9 one-pixel shifts of 'digits' at 8x8 may repeat in 5 draws.
    copies = augmented_copies("rot0.1-zoom0.1-fillconstant", image, n=5, seed=3)
    assert copies.shape == (1, 5, 8, 8, 1)
    assert len({c.tobytes() for c in copies[0]}) == 5  # each copy its own draw
    np.testing.assert_array_equal(copies, augmented_copies("rot0.1-zoom0.1-fillconstant", image, n=5, seed=3))
    # A layer is used as it is.
    layer = augmentation_preset("none")
    np.testing.assert_array_equal(augmented_copies(layer, image, n=2)[0, 1], image)


def test_preview_writes_the_grid(tmp_path):
    from matplotlib.image import imread

    data = load_dataset("digits", limit=50)
    one = preview_augmentation("standard", data.x_train[0], n=8, path=tmp_path / "one.png", dpi=50)
    assert one == tmp_path / "one.png"
    image = imread(one)
    # original + 8 copies -> 3x3 panels of 1.2 inches at 50 dpi.
    assert image.shape[:2] == (180, 180)
    rows = preview_augmentation("digits", data.x_train[:3], n=4, path=tmp_path / "sub" / "rows.png", dpi=50)
    assert imread(rows).shape[:2] == (3 * 60, 5 * 60)  # 3 images x (original + 4 copies)


def test_preview_checks_value_range_and_images(tmp_path):
    pixels = np.random.default_rng(0).uniform(0, 255, (8, 8, 3)).astype("float32")
    with pytest.raises(ValueError, match=r"value_range=\(0, 1\).*Pass value_range=\(0, 255\)"):
        preview_augmentation("standard", pixels, path=tmp_path / "x.png")
    preview_augmentation("standard", pixels, n=2, value_range=(0, 255), path=tmp_path / "ok.png", dpi=20)
    with pytest.raises(ValueError, match=r"`images`. Expected one image"):
        preview_augmentation("standard", np.zeros((2, 2, 2, 2, 2)), path=tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"`n`. Expected an integer >= 1"):
        augmented_copies("standard", pixels / 255, n=0)


def test_preview_without_matplotlib_names_the_extra(monkeypatch, tmp_path):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'keras-cnnlab\[plot\]'"):
        preview_augmentation("standard", np.zeros((8, 8, 1)), path=tmp_path / "x.png")


def test_example_runs_with_smoke(tmp_path, capsys):
    example = _load(ROOT / "examples" / "augmentation_preview.py")
    example.main(["--smoke", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert (tmp_path / "augment_digits.png").exists()
    assert "standard" in printed and "digits" in printed


@pytest.mark.slow
def test_benchmark_smoke_run_writes_rows(tmp_path, capsys):
    bench = _load(ROOT / "bench" / "bench_augment.py")
    out = tmp_path / "rows.json"
    assert bench.main(["--smoke", "--no-gap", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    printed = capsys.readouterr().out
    keys = ("figure", "value", "baseline", "ratio", "target", "met", "command", "machine")
    for row in rows:
        assert all(key in row for key in keys)
        assert row["command"].endswith("python bench/bench_augment.py --smoke --no-gap")
        assert row["figure"] in printed
    assert any("in model: strong" in row["figure"] for row in rows)
    assert any("in tf.data: strong" in row["figure"] for row in rows)
    assert "command: " in printed
