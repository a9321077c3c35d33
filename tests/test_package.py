"""Packaging: light import, version, a wheel that installs, the demo, multi-device training."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from _subprocess import ROOT, run_python


def test_import_is_light():
    result = run_python(
        """
        import sys
        import keras_cnnlab, keras_cnnlab.shapes
        heavy = ["keras", "tensorflow", "jax", "torch", "rich", "keras_tuner", "matplotlib", "sklearn"]
        print(sorted(m for m in heavy if m in sys.modules))
        print(keras_cnnlab.__version__)
        """
    )
    assert result.returncode == 0, result.stderr
    loaded, version = result.stdout.strip().splitlines()
    assert loaded == "[]"
    assert version.count(".") == 2


def test_public_names_resolve():
    import keras_cnnlab
    from keras_cnnlab import ConvBlock, build_cnn, load_dataset

    assert ConvBlock.__module__ == "keras_cnnlab.blocks.conv_block"
    assert callable(build_cnn) and callable(load_dataset)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        keras_cnnlab.Nope  # noqa: B018


@pytest.mark.slow
def test_every_extra_the_project_names_exists():
    import re

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    named = {}
    for path in [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("keras_cnnlab/**/*.py")]:
        for extra in re.findall(r"keras-cnnlab\[([\w,-]+)\]", path.read_text()):
            for name in extra.split(","):
                named.setdefault(name, path.relative_to(ROOT))
    assert named, "the README names the extras"
    missing = {name: str(path) for name, path in named.items() if name not in declared}
    assert not missing, f"extras named but not in pyproject.toml: {missing}"


def test_wheel_builds_installs_and_imports(tmp_path):
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(ROOT)],
        capture_output=True, text=True, timeout=900,
    )
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    wheel = next(dist.glob("keras_cnnlab-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=600)
    py = venv / "bin" / "python"
    clean_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    install = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        capture_output=True, text=True, cwd=tmp_path, env=clean_env, timeout=900,
    )
    assert install.returncode == 0, install.stderr
    # A fresh venv: the package, its type marker and its pure-Python core work alone ...
    alone = subprocess.run(
        [str(py), "-c", "import keras_cnnlab, keras_cnnlab.shapes as s, importlib.resources as r;"
         "print(keras_cnnlab.__version__, s.conv_output_length(7, 3),"
         " r.files('keras_cnnlab').joinpath('py.typed').is_file())"],
        capture_output=True, text=True, cwd=tmp_path, env=clean_env, timeout=600,
    )
    assert alone.returncode == 0, alone.stderr
    assert alone.stdout.split()[1:] == ["5", "True"]
    # ... and with the dependencies on the path, the installed copy builds a model.
    site = next(Path(p) for p in sys.path if p.endswith("site-packages"))
    full = subprocess.run(
        [str(py), "-c", "import keras_cnnlab as k; m = k.build_cnn((8, 8, 1), 10);"
         "print(k.__file__); print(m.count_params())"],
        capture_output=True, text=True, cwd=tmp_path, timeout=900,
        env={**os.environ, "PYTHONPATH": str(site), "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert full.returncode == 0, full.stderr[-2000:]
    assert str(venv) in full.stdout


@pytest.mark.slow
def test_tf_mirrored_strategy_on_two_logical_cpus():
    """ConvBlock models train under MirroredStrategy (own process: devices are set at start)."""
    result = run_python(
        """
        import os
        os.environ["KERAS_BACKEND"] = "tensorflow"
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
        from keras_cnnlab import build_cnn, compile_for, load_dataset
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        data = load_dataset("digits")
        with strategy.scope():
            model = build_cnn(data.input_shape, 10, filters=(16, 32), seed=0)
            compile_for(model, data.y_train)
        history = model.fit(data.x_train, data.y_train, epochs=2, batch_size=64, verbose=0)
        print(strategy.num_replicas_in_sync, history.history["loss"][0] > history.history["loss"][-1])
        """,
        env_extra={"KERAS_BACKEND": "tensorflow"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-2:] == ["2", "True"]
