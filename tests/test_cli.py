"""The ``cnnlab`` command: exit codes, files written, messages.

Most runs call ``cli.main(argv)`` in the test process (Keras is already imported
there); the ones that check what a user's shell sees (standard error free of
tracebacks and backend chatter, ``python -m keras_cnnlab``) run in a subprocess.
"""

import json
import os
import re
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_cnnlab import ConvBlock, cli
from keras_cnnlab.augment import PRESET_FOR_DATA
from keras_cnnlab.cli.common import load_data
from keras_cnnlab.cli.run_files import run_dir
from keras_cnnlab.models import ARCHITECTURES

ROOT = Path(__file__).resolve().parents[1]


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_process(*argv, timeout=900):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CNNLAB_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "keras_cnnlab", *map(str, argv)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout,
    )


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# -- arguments and help -------------------------------------------------------------


def test_help_needs_no_backend():
    code = (
        "import sys; from keras_cnnlab import cli; rc = cli.main(['train', '--help']);"
        "print(rc, 'keras' in sys.modules, 'tensorflow' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "0 False False"
    assert "--augmentation PRESET" in result.stdout


def test_python_dash_m_entry_point():
    result = run_process("--help")
    assert result.returncode == 0, result.stderr
    for command in ("demo", "train", "tune", "trace"):
        assert command in result.stdout
    assert "examples:" in result.stdout


@pytest.mark.parametrize("command", ["demo", "train", "tune", "trace"])
def test_every_command_has_help_with_examples(command, capsys):
    code, out, _ = run([command, "--help"], capsys)
    assert code == 0
    assert "examples:" in out
    assert f"cnnlab {command}" in out.split("examples:")[1]


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        ([], "COMMAND"),
        (["fit"], "invalid choice: 'fit'"),
        (["train", "--epochs", "0"], "--epochs: expected a positive integer, got '0'"),
        (["train", "--epochs", "many"], "--epochs: expected a positive integer, got 'many'"),
        (["train", "--learning-rate", "nan"], "--learning-rate: expected a positive number, got 'nan'"),
        (["train", "--warmup-epochs", "-1"], "--warmup-epochs: expected an integer >= 0, got '-1'"),
        (["train", "--dataset", "svhn"], "--dataset"),
        (["train", "--arch", "resnet50"], "--arch"),
        (["train", "--strength", "-0.5"], "--strength: expected a number >= 0, got '-0.5'"),
        (["demo", "--batch-size", "-4"], "--batch-size"),
        (["tune", "--tuner", "sobol"], "--tuner"),
        (["tune", "--resume", "--overwrite"], "--overwrite"),
        (["trace", "--input-shape", "32,32"], "--input-shape"),
        (["trace", "--depth", "-1"], "--depth: expected an integer >= 0, got '-1'"),
    ],
)
def test_bad_arguments_give_one_line_and_status_2(argv, names, capsys):
    code, out, err = run(argv, capsys)
    assert code == 2
    line = one_error_line(err)
    assert line.startswith("cnnlab")
    assert names in line
    assert "--help" in line
    assert out == ""


def test_architecture_choices_follow_the_models():
    assert set(cli.ARCHS) == {"default", *ARCHITECTURES}
    assert set(cli.DATASETS) <= set(PRESET_FOR_DATA)


def test_augment_is_an_alias_of_augmentation(capsys):
    parser = cli.build_parser()
    for option in ("--augmentation", "--augment"):
        assert parser.parse_args(["train", option, "light"]).augmentation == "light"
    code, out, _ = run(["train", "--help"], capsys)
    assert code == 0 and "[--augmentation PRESET]" in out


# -- outputs are never overwritten ----------------------------------------------------


def test_a_flip_on_digits_is_warned_in_the_commands_terms():
    from keras_cnnlab import default_recipe
    from keras_cnnlab.cli.train import _augmentation

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer, name = _augmentation(default_recipe("digits"), "flip", "digits", strength=None, seed=0)
    assert layer is not None and name == "flip"
    assert [str(w.message) for w in caught] == [
        "--augmentation flip flips images (horizontal), but the digits dataset holds digits or "
        "characters, whose meaning a mirror image changes (a flipped 2 is no digit). Use "
        "--augmentation digits, or a spec string without flip."
    ]


def test_train_help_quotes_the_digits_recipe(capsys):
    from keras_cnnlab import default_recipe

    recipe = default_recipe("digits")
    code, out, _ = run(["train", "--help"], capsys)
    text = " ".join(out.split())
    assert code == 0
    assert f"the recipe's, {recipe.epochs} for digits" in text
    assert f"the recipe's, {recipe.batch_size} for digits" in text
    assert f"the recipe's, {recipe.learning_rate:g} for digits" in text
    assert f"the recipe's for the dataset: {recipe.augmentation} for digits" in text


def test_an_unknown_augmentation_names_the_option():
    from keras_cnnlab import default_recipe
    from keras_cnnlab.cli.common import CLIError
    from keras_cnnlab.cli.train import _augmentation

    with pytest.raises(CLIError, match=r"^--augmentation nosuchpreset: Unknown augmentation preset 'nosuchpreset'"):
        _augmentation(default_recipe("digits"), "nosuchpreset", "digits", strength=None, seed=0)


def test_run_dir_picks_the_next_free_numbered_directory(tmp_path, capsys):
    out = tmp_path / "runs"
    assert run_dir(out, overwrite=False) == out
    out.mkdir()
    (out / "notes.txt").write_text("mine")  # not a run file: the directory is still free
    assert run_dir(out, overwrite=False) == out
    (out / "model.keras").write_text("old")
    assert run_dir(out, overwrite=False) == tmp_path / "runs-2"
    (tmp_path / "runs-2").mkdir()
    (tmp_path / "runs-2" / "metrics.json").write_text("{}")
    assert run_dir(out, overwrite=False) == tmp_path / "runs-3"
    assert "--overwrite" in capsys.readouterr().out
    assert run_dir(out, overwrite=True) == out
    (tmp_path / "afile").write_text("x")
    with pytest.raises(cli.CLIError, match="is a file"):
        run_dir(tmp_path / "afile", overwrite=False)


def test_train_writes_a_new_run_beside_an_old_one(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.keras").write_text("an earlier run")
    code, stdout, err = run(
        ["train", "--arch", "two_conv", "--epochs", "2", "--limit", "160", "--batch-size", "64",
         "--out", out], capsys,
    )
    assert code == 0, err
    assert (out / "model.keras").read_text() == "an earlier run"
    new = tmp_path / "out-2"
    assert f"writing to {new}" in stdout
    for name in cli.RUN_FILES:
        assert (new / name).stat().st_size > 0, name
    metrics = json.loads((new / "metrics.json").read_text())
    assert metrics["arch"] == "two_conv" and metrics["augmentation"] == "none"
    assert metrics["recipe"]["epochs"] == 2 and len(metrics["history"]["val_accuracy"]) == 2
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert f"test accuracy {metrics['test_accuracy']:.4f}" in stdout
    assert "Epoch 2/2" in stdout  # the training report
    assert "Best epoch" in (new / "report.txt").read_text()
    model = keras.saving.load_model(new / "model.keras")
    assert model.count_params() == metrics["params"]
    assert model.predict(np.zeros((1, 8, 8, 1), "float32"), verbose=0).shape == (1, 10)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--optimizer", "nope"], "--optimizer 'nope' is not a Keras optimizer"),
        (["--augmentation", "bogus"], "Unknown augmentation preset 'bogus'. Valid presets: 'none'"),
    ],
)
def test_train_bad_choices_fail_before_training(argv, message, tmp_path, capsys):
    code, out, err = run(["train", *argv, "--out", tmp_path / "o"], capsys)
    assert code == 1
    assert message in one_error_line(err)
    assert "Epoch" not in out and not (tmp_path / "o").exists()


def test_train_network_too_small_for_the_input_is_one_line(tmp_path, capsys):
    code, _, err = run(["train", "--arch", "deep_simple", "--out", tmp_path / "o"], capsys)
    assert code == 1
    line = one_error_line(err)
    assert "spatial size reaches zero" in line
    assert "cnnlab trace --arch deep_simple --input-shape 8,8,1" in line
    assert not (tmp_path / "o").exists()


# -- trace ----------------------------------------------------------------------------


def test_trace_named_architecture_and_exports(tmp_path, capsys):
    svg, data, html = tmp_path / "t.svg", tmp_path / "t.json", tmp_path / "t.html"
    argv = ["trace", "--arch", "simple", "--input-shape", "28,28,1", "--svg", svg, "--json", data, "--html", html]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    # Tutorial B prints 167,114 parameters for this network.
    assert json.loads(data.read_text())["totals"]["params"] == 167_114
    assert "167,114" in out
    assert svg.read_text().lstrip().startswith("<svg")
    assert "<html" in html.read_text().lower()
    assert f"saved {svg}" in out

    data.write_text("keep me")
    code, out, err = run(argv, capsys)
    assert code == 1
    assert "--overwrite" in one_error_line(err)
    assert data.read_text() == "keep me" and out == ""
    code, _, err = run([*argv, "--overwrite"], capsys)
    assert code == 0, err
    assert json.loads(data.read_text())["totals"]["params"] == 167_114


def test_trace_saved_model(tmp_path, capsys):
    model = keras.Sequential([keras.Input((8, 8, 1)), ConvBlock(4, name="my_block"), keras.layers.Flatten(),
                              keras.layers.Dense(3)], name="saved")
    path = tmp_path / "m.keras"
    model.save(path)
    code, out, err = run(["trace", path, "--depth", "0", "--columns", "layer,output,params"], capsys)
    assert code == 0, err
    assert "my_block" in out and "(None, 4, 4, 4)" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["trace"], "either a saved model"),
        (["trace", "m.keras", "--arch", "simple"], "not both"),
        (["trace", "missing.keras"], "no such file"),
        (["trace", "junk.keras"], "junk.keras is not a Keras model file: a .keras file is the zip archive"),
        (["trace", "other.keras"], "other.keras: could not load it as a Keras model"),
        (["trace", "folder.keras"], "is a directory"),
        (["trace", "notes.txt"], "expected a model saved as .keras"),
    ],
)
def test_trace_errors_are_one_line(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("junk.keras").write_text("not a zip")
    with zipfile.ZipFile("other.keras", "w") as archive:  # a zip, but no model in it
        archive.writestr("readme.txt", "hello")
    Path("folder.keras").mkdir()
    Path("notes.txt").write_text("text")
    code, _, err = run(argv, capsys)
    assert code == 1
    line = one_error_line(err)
    assert message in line and "File not found" not in line


def test_trace_shows_the_arithmetic_that_fails(capsys):
    code, out, err = run(["trace", "--arch", "deep_simple", "--input-shape", "8,8,1"], capsys)
    assert code == 1 and out == ""
    assert "maxpool 2 s2 valid: 1 -> 0  <-- here" in err
    assert "Traceback" not in err


# -- tune -----------------------------------------------------------------------------


def test_tune_refuses_to_mix_with_an_existing_search(tmp_path, capsys):
    (tmp_path / "digits").mkdir()
    (tmp_path / "digits" / "oracle.json").write_text("{}")
    code, _, err = run(["tune", "--directory", tmp_path], capsys)
    assert code == 1
    line = one_error_line(err)
    assert "--resume" in line and "--overwrite" in line
    code, _, err = run(["tune", "--directory", tmp_path, "--project-name", "other", "--resume"], capsys)
    assert code == 1
    assert "no search" in one_error_line(err)
    code, _, err = run(["tune", "--tuner", "hyperband", "--max-trials", "3", "--directory", tmp_path / "h"], capsys)
    assert code == 1
    assert "--max-trials does not apply" in one_error_line(err)


@pytest.mark.slow
def test_tune_runs_shows_the_table_and_resumes(tmp_path, capsys):
    argv = ["tune", "--max-trials", "1", "--epochs", "1", "--limit", "160", "--directory", tmp_path]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    best = tmp_path / "digits" / "best.keras"
    assert best.stat().st_size > 0
    assert "best model: test accuracy" in out
    trials = sorted(p.name for p in (tmp_path / "digits").glob("trial_*"))
    assert len(trials) == 1
    saved = best.read_bytes()
    # Resumed as it was: the search had finished, so nothing runs and nothing new is saved.
    code, out, err = run([*argv, "--resume"], capsys)
    assert code == 0, err
    assert "had already run all its trials (1 completed): none ran now" in out and "--max-trials" in out
    assert best.read_bytes() == saved and not (tmp_path / "digits" / "best-2.keras").exists()
    assert sorted(p.name for p in (tmp_path / "digits").glob("trial_*")) == trials
    # Resumed with one more trial: the finished trial is reloaded, not run again; the model
    # saved before is kept and the resumed search's best goes next to it.
    argv[argv.index("--max-trials") + 1] = "2"
    code, out, err = run([*argv, "--resume"], capsys)
    assert code == 0, err
    assert best.read_bytes() == saved
    again = tmp_path / "digits" / "best-2.keras"
    assert again.stat().st_size > 0 and f"saved to {again}" in out
    after = sorted(p.name for p in (tmp_path / "digits").glob("trial_*"))
    assert len(after) == 2 and set(trials) < set(after)


# -- what a shell sees ----------------------------------------------------------------


def test_offline_dataset_is_one_line(tmp_path, monkeypatch, capsys):
    # No cache, and no way out: the download fails at once, on any machine.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    code, _, err = run(["train", "--dataset", "mnist", "--out", tmp_path / "o"], capsys)
    assert code == 1
    line = one_error_line(err)
    assert line.startswith("cnnlab: error: Could not download the 'mnist' dataset")
    assert "mnist.npz" in line and "--dataset digits" in line
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_demo_in_a_shell(tmp_path):
    out = tmp_path / "demo"
    result = run_process("demo", "--epochs", "2", "--out", out)
    assert result.returncode == 0, result.stderr[-3000:]
    # No traceback, and none of the backend's start-up chatter (absl's "E0000 ..." lines).
    assert "Traceback" not in result.stderr
    assert not re.search(r"^[EWI]\d{4} ", result.stderr, flags=re.M), result.stderr
    for name in cli.RUN_FILES:
        assert (out / name).stat().st_size > 0, name
    stdout = result.stdout
    assert "Shape trace" in stdout  # the trace comes first ...
    assert stdout.index("Shape trace") < stdout.index("Epoch 1/2") < stdout.index("test accuracy")
    assert f"saved to {out}/" in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == "digits" and metrics["augmentation"] == "none"
    assert metrics["recipe"]["network"] == {"filters": [64, 128]}  # the digits recipe's two blocks


# -- Ctrl-C ---------------------------------------------------------------------------


def test_ctrl_c_in_train_saves_the_last_completed_epoch_and_says_where(tmp_path, capsys, monkeypatch):
    from keras_cnnlab import callbacks

    class CtrlCInThirdEpoch(callbacks.OverfittingGapMonitor):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt

    monkeypatch.setattr(callbacks, "OverfittingGapMonitor", CtrlCInThirdEpoch)
    out = tmp_path / "run"
    code, stdout, err = run(
        ["train", "--arch", "two_conv", "--epochs", "5", "--limit", "160", "--batch-size", "64",
         "--out", out], capsys,
    )
    assert code == 130
    assert "interrupted; saved the model after epoch 2" in err and str(out) in err
    for name in cli.RUN_FILES:
        assert (out / name).stat().st_size > 0, name
        assert str(out / name) in err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["interrupted"] is True and metrics["epochs_completed"] == 2
    assert len(metrics["history"]["val_accuracy"]) == 2
    assert "Stopped      fit raised after epoch 2/5" in (out / "report.txt").read_text()
    # The saved model is the one the second epoch left: its validation accuracy again.
    model = keras.saving.load_model(out / "model.keras")
    data = load_data("digits", seed=0, limit=160)
    _, accuracy = model.evaluate(data.x_val, data.y_val, verbose=0)
    assert accuracy == pytest.approx(metrics["history"]["val_accuracy"][-1], abs=1e-6)


def test_ctrl_c_before_the_first_epoch_ends_saves_the_report_only(tmp_path, capsys, monkeypatch):
    from keras_cnnlab import callbacks

    class CtrlCAtOnce(callbacks.OverfittingGapMonitor):
        def on_epoch_begin(self, epoch, logs=None):
            raise KeyboardInterrupt

    monkeypatch.setattr(callbacks, "OverfittingGapMonitor", CtrlCAtOnce)
    out = tmp_path / "run"
    code, _, err = run(["train", "--arch", "two_conv", "--epochs", "2", "--limit", "160", "--out", out], capsys)
    assert code == 130 and "interrupted before the first epoch ended (no model to save)" in err
    assert (out / "report.txt").exists() and not (out / "model.keras").exists()
    assert json.loads((out / "metrics.json").read_text())["epochs_completed"] == 0


def test_a_limit_too_small_for_the_splits_is_one_line_with_the_fix(capsys):
    code, out, err = run(["train", "--limit", "5", "--epochs", "1"], capsys)
    assert code == 1 and out == ""
    line = one_error_line(err)
    assert line.startswith("cnnlab: error: --limit 5 leaves") and line.endswith("Use --limit 11 or more.")


@pytest.mark.slow
def test_tune_runs_a_grid_search(tmp_path, capsys):
    argv = ["tune", "--tuner", "grid", "--max-trials", "2", "--epochs", "1", "--limit", "160",
            "--directory", tmp_path]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert "grid search in" in out and "best model: test accuracy" in out
    assert (tmp_path / "digits" / "best.keras").stat().st_size > 0
    trials = sorted((tmp_path / "digits").glob("trial_*/trial.json"))
    assert len(trials) == 2
    first, second = (json.loads(t.read_text())["hyperparameters"]["values"] for t in trials)
    # GridSearch: the first trial takes every default, the next changes one value only.
    changed = [k for k in first.keys() | second.keys() if first.get(k) != second.get(k)]
    assert len(changed) == 1, changed


@pytest.mark.parametrize(("argv", "line"), [
    (["--label-smoothing", "1.5"], "cnnlab: error: --label-smoothing: Expected a number in [0, 1)"),
    (["--augmentation", "digits", "--strength", "10"], "cnnlab: error: --strength: --strength 10 scales `pad_crop`"),
    (["--strength", "2"], "--strength 2 scales an augmentation preset, but this run has none (--augmentation none"),
    (["--warmup-epochs", "70"], "Received --warmup-epochs 70."),
])
def test_recipe_and_strength_errors_name_the_option(argv, line, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default --out is in the working directory
    code, out, err = run(["train", "--epochs", "1", *argv], capsys)
    assert code == 1 and out == ""
    message = one_error_line(err)
    assert line in message and "--debug" not in message
