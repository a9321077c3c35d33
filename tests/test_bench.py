"""The benchmark scripts run (tiny smoke runs) and write well-formed rows.

Benchmarks are not tests: nothing here checks a timing. These tests check that
each script runs, writes the rows it promises, and that the runner collects
them, reports missing and failing scripts, and writes the results table.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

import _common  # noqa: E402
import bench_accuracy  # noqa: E402
import run_all  # noqa: E402


def run_script(path, *args, timeout=600):
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, str(path), *args], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=timeout, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def smoke_rows(tmp_path, script, *args, printed=True):
    out = tmp_path / "rows.json"
    done = run_script(BENCH / script, "--smoke", *args, "--json", str(out))
    rows = json.loads(out.read_text())
    assert isinstance(rows, list) and rows
    for row in rows:
        assert _common.row_problems(row) == [], row
        assert row["command"].endswith(f"python bench/{script} --smoke" + "".join(f" {a}" for a in args))
        assert row["machine"]
    # The printed table carries every figure (scripts with a table of their own: their variants).
    for row in rows:
        assert row["figure"].replace("|", "\\|") in done.stdout if printed else row["figure"]
    return rows


def find(rows, prefix):
    """The one row whose figure starts with ``prefix``."""
    found = [row for row in rows if row["figure"].startswith(prefix)]
    assert len(found) == 1, (prefix, [row["figure"] for row in rows])
    return found[0]


# --- helpers (in process, fast) ---------------------------------------------------


def test_alternate_reverses_the_order_every_other_round():
    calls = []
    timings = _common.alternate(
        {"a": lambda: calls.append("a") or 2.0, "b": lambda: calls.append("b") or 1.0},
        repeats=4,
        warmup=1,
    )
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b", "b", "a"]
    assert timings.order == calls[2:]
    assert timings.samples == {"a": [2.0] * 4, "b": [1.0] * 4}
    assert timings.ratio("a", "b") == 2.0


def test_ratio_is_the_median_of_per_round_ratios():
    timings = _common.Timings({"a": [1.0, 10.0, 3.0], "b": [1.0, 5.0, 1.0]})
    # per round: 1, 2, 3 -> median 2 (the ratio of medians would be 3 / 1).
    assert timings.ratio("a", "b") == 2.0
    assert timings.median("a") == 3.0


def test_alternate_times_the_call_when_the_variant_returns_nothing():
    timings = _common.alternate({"x": lambda: None}, repeats=2, warmup=0)
    assert len(timings.samples["x"]) == 2
    assert all(0 <= t < 1 for t in timings.samples["x"])


def test_alternate_stops_starting_rounds_when_the_time_is_spent():
    timings = _common.alternate(
        {"a": lambda: time.sleep(0.02), "b": lambda: None},
        repeats=50, warmup=0, max_seconds=0.0, min_repeats=3,
    )
    assert timings.rounds == 3 and len(timings.samples["a"]) == len(timings.samples["b"]) == 3
    assert _common.alternate({"a": lambda: None}, repeats=4, warmup=0, max_seconds=60).rounds == 4


def test_alternate_rejects_zero_repeats():
    with pytest.raises(ValueError, match="repeats"):
        _common.alternate({"x": lambda: None}, repeats=0)


def test_make_row_validates_its_fields():
    row = _common.make_row("f", "1 s", ratio=1, target="<= 2", met=True, command="python x.py")
    assert row == {
        "figure": "f", "value": "1 s", "baseline": None, "ratio": 1.0, "target": "<= 2",
        "met": True, "command": "python x.py",
    }
    with pytest.raises(ValueError, match="figure"):
        _common.make_row("", "1 s", command="c")
    assert "missing key 'met'" in _common.row_problems({"figure": "f", "value": 1, "baseline": None,
                                                        "ratio": None, "target": None, "command": "c"})
    assert _common.row_problems({**row, "met": "yes"}) == ["`met` must be true, false or null"]
    assert _common.row_problems({**row, "ratio": "1.0"}) == ["`ratio` must be a number or null"]


def test_command_line_drops_the_json_path_and_names_the_backend(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    text = _common.command_line(["--smoke", "--json", "/tmp/x.json", "--repeats=3"], script=str(BENCH / "bench_blocks.py"))
    assert text == "KERAS_BACKEND=jax python bench/bench_blocks.py --smoke --repeats=3"


def test_markdown_table_escapes_pipes_and_marks_misses():
    rows = [
        _common.make_row("a|b", "1", ratio=1.5, target="<= 1.02", met=False, command="c1"),
        _common.make_row("c", 2.0, command="c2"),
    ]
    table = _common.markdown_table(rows).splitlines()
    assert len(table) == 4
    assert table[2] == "| a\\|b | 1 | - | 1.500 | **no** (<= 1.02) | `c1` |"
    assert table[3] == "| c | 2 | - | - | - | `c2` |"


def test_machine_info_names_cores_and_backend():
    info = _common.machine_info("tensorflow")
    assert info["cores"] >= 1 and info["backend"] == "tensorflow"
    assert info["backend_version"] and info["keras"]
    assert _common.machine_summary(info).startswith(f"{info['cores']} cores, tensorflow ")


# --- the runner, with stand-in scripts (fast) -------------------------------------


def test_run_all_collects_rows_and_reports_missing_and_failing_scripts(tmp_path):
    fake = tmp_path / "bench"
    fake.mkdir()
    (fake / "bench_blocks.py").write_text(textwrap.dedent("""
        import json, sys
        path = sys.argv[sys.argv.index("--json") + 1]
        row = dict(figure="Blocks: epoch", value="1 s", baseline="plain: 1 s", ratio=1.01,
                   target="<= 1.02", met=True, command="python bench/bench_blocks.py --smoke")
        miss = dict(row, figure="Blocks: other", ratio=1.5, met=False, note="machine busy")
        json.dump([row, miss], open(path, "w"))
    """))
    (fake / "bench_import.py").write_text("import sys\nprint('boom', file=sys.stderr)\nsys.exit(3)\n")
    (fake / "bench_trace.py").write_text("import json, sys\njson.dump([{'figure': 'x'}], open(sys.argv[-1], 'w'))\n")
    out = tmp_path / "RESULTS.md"
    code = run_all.main([
        "--smoke", "--only", "blocks,import,trace,augment", "--bench-dir", str(fake),
        "--output", str(out), "--json-dir", str(tmp_path / "json"),
    ])
    assert code == 1  # a script failed
    text = out.read_text()
    assert "| Blocks: epoch | 1 s | plain: 1 s | 1.010 | yes (<= 1.02) |" in text
    assert "failed (exit 3: boom)" in text
    assert "augment: bench_augment.py | not available (script missing)" in text
    assert "trace: malformed row | failed (missing key 'value'" in text
    assert "- met: Blocks: epoch: 1 s (<= 1.02)" in text
    assert "- **missed**: Blocks: other: 1 s, ratio 1.500 (target <= 1.02). Note: machine busy" in text
    # Rows are in benchmark order (blocks 1, augment 5, trace 6, import 7), whatever the running order.
    order = [text.index(s) for s in ("Blocks: epoch", "bench_augment.py", "trace: malformed", "import: bench_import.py")]
    assert order == sorted(order)
    assert json.loads((tmp_path / "json" / "blocks.json").read_text())[0]["ratio"] == 1.01


def test_run_all_only_leaves_the_other_rows_of_results_md_alone(tmp_path, monkeypatch, capsys):
    fake = tmp_path / "bench"
    fake.mkdir()
    (fake / "bench_trace.py").write_text(textwrap.dedent("""
        import json, sys
        row = dict(figure="Trace: x", value="1 s", baseline=None, ratio=None, target=None, met=None,
                   command="python bench/bench_trace.py")
        json.dump([row], open(sys.argv[sys.argv.index("--json") + 1], "w"))
    """))
    results = tmp_path / "RESULTS.md"
    results.write_text("every other benchmark's rows\n")
    monkeypatch.setattr(_common, "BENCH_DIR", tmp_path)
    refilled = []
    monkeypatch.setattr(run_all, "update_docs", lambda outcomes, stamp: refilled.extend(outcomes) or [])
    assert run_all.main(["--only", "trace", "--bench-dir", str(fake)]) == 0
    assert results.read_text() == "every other benchmark's rows\n"  # a partial run replaces nothing
    out = capsys.readouterr().out
    written = Path(out.split("wrote ")[1].split(" (")[0])
    assert "| Trace: x | 1 s |" in written.read_text()
    assert f"bench/RESULTS.md is unchanged: replace its rows of trace with those of {written}" in out
    assert [o.benchmark.name for o in refilled] == ["trace"]  # the docs' figures are still refilled


def test_run_all_passes_the_tuning_rows_to_the_accuracy_benchmark(tmp_path):
    fake = tmp_path / "bench"
    fake.mkdir()
    (fake / "bench_tuning.py").write_text(textwrap.dedent("""
        import json, sys
        row = dict(figure="Tuning", value="0.9", baseline=None, ratio=None, target=None, met=None,
                   command="c", config={"filters": [8]})
        json.dump([row], open(sys.argv[sys.argv.index("--json") + 1], "w"))
    """))
    (fake / "bench_accuracy.py").write_text(textwrap.dedent("""
        import json, sys
        given = sys.argv[sys.argv.index("--tuning-json") + 1]
        config = json.load(open(given))[0]["config"]
        row = dict(figure="Accuracy", value=json.dumps(config), baseline=None, ratio=None,
                   target=None, met=None, command="c")
        json.dump([row], open(sys.argv[sys.argv.index("--json") + 1], "w"))
    """))
    out = tmp_path / "RESULTS.md"
    assert run_all.main(["--only", "tuning,accuracy", "--bench-dir", str(fake), "--output", str(out)]) == 0
    assert '| Accuracy | {"filters": [8]} |' in out.read_text()


def test_run_all_refills_the_figures_the_docs_quote(tmp_path):
    def outcome(name, figures, status="ok"):
        bench = run_all.Benchmark(name, f"bench_{name}.py", 1)
        rows = [_common.make_row(f, "1 s", command=f"python bench/bench_{name}.py") for f in figures]
        return run_all.Outcome(bench, rows, 1.0, status)

    page = tmp_path / "page.md"
    page.write_text(
        "intro\n<!-- bench:augment Gap -->\nold table\n<!-- /bench -->\nmiddle\n"
        "<!-- bench:trace -->\n<!-- /bench -->\n<!-- bench:tuning -->\nkept\n<!-- /bench -->\nend\n"
    )
    outcomes = [outcome("augment", ["Augment in model: a", "Gap on digits: b"]),
                outcome("trace", ["Trace: c"]), outcome("tuning", ["Tuning: d"], status="failed")]
    assert run_all.update_docs(outcomes, docs_dir=tmp_path, stamp="2026-12-01") == [page]
    text = page.read_text()
    augment = text.split("<!-- bench:augment Gap -->\n")[1].split("<!-- /bench -->")[0]
    assert "Gap on digits: b" in augment and "Augment in model" not in augment and "old table" not in augment
    assert "Measured by `python bench/bench_augment.py` on 2026-12-01" in augment
    assert "Trace: c" in text
    assert "<!-- bench:tuning -->\nkept\n<!-- /bench -->" in text  # did not run: left as it was
    assert text.startswith("intro\n") and "\nmiddle\n" in text and text.endswith("end\n")
    assert run_all.update_docs(outcomes, docs_dir=tmp_path, stamp="2026-12-01") == []  # already current


def test_run_all_rejects_unknown_names(capsys):
    with pytest.raises(SystemExit):
        run_all.main(["--only", "nope"])
    assert "unknown benchmark" in capsys.readouterr().err


# --- smoke runs of the real scripts (subprocesses) --------------------------------


@pytest.mark.slow
def test_bench_blocks_smoke(tmp_path):
    rows = smoke_rows(tmp_path, "bench_blocks.py")
    assert len(rows) == 5
    epoch = find(rows, "Blocks: training time per epoch")
    assert epoch["ratio"] > 0 and epoch["target"] == "<= 1.02" and isinstance(epoch["met"], bool)
    params = find(rows, "Blocks: parameter count")
    assert params["value"] == params["baseline"] and params["met"] is True
    assert find(rows, "Blocks: same outputs given the same weights")["met"] is True
    assert find(rows, "Blocks: operations in the traced training step")["met"] is True
    assert find(rows, "Blocks: noise floor")["ratio"] > 0


@pytest.mark.slow
def test_bench_accuracy_smoke(tmp_path):
    tuning = tmp_path / "tuning.json"
    tuning.write_text(json.dumps([{
        "figure": "Tuning: best", "value": "0.9", "baseline": None, "ratio": None, "target": None,
        "met": None, "command": "c", "config": {"filters": [4], "head_units": [16], "epochs": 1},
    }]))
    rows = smoke_rows(tmp_path, "bench_accuracy.py", "--tuning-json", str(tuning))
    cnn = find(rows, "Accuracy: default_recipe('digits') (build_cnn with filters=")
    assert cnn["target"].startswith("mean >= 0.994, beats the SVC on >= 4/5 splits")
    assert isinstance(cnn["met"], bool) and cnn["ratio"] > 0
    preset = find(rows, "Accuracy: preset 'digits' against 'none'")
    assert preset["target"] == "mean > 'none' mean" and "beats 'none' on " in preset["value"]
    tuned = find(rows, "Accuracy: tuner-best configuration {")
    assert '"filters": [4]' in tuned["figure"] and tuned["ratio"] > 0
    svc = find(rows, "Accuracy: SVC (RBF; C in [10.0], gamma in [0.1] by 2-fold GridSearchCV), digits")
    dense = find(rows, "Accuracy: plain dense network")
    for row in (cnn, tuned, dense):
        assert row["baseline"].startswith("SVC: " + svc["value"].split(";")[0])
        assert "beats the SVC on " in row["value"] and row["value"].endswith("per split")
    for name in ("light", "standard"):
        row = find(rows, f"Accuracy: preset '{name}' against 'none' under default_recipe('lfw_subset')")
        assert isinstance(row["met"], bool) and row["baseline"].startswith("'none': ")
    assert " +/- " in svc["value"]


@pytest.mark.slow
def test_bench_import_smoke(tmp_path):
    rows = smoke_rows(tmp_path, "bench_import.py")
    alone = find(rows, "Import: `import keras_cnnlab` alone")
    assert alone["met"] is True, alone  # the package loads no backend on import
    after = find(rows, "Import: `import keras_cnnlab` after `import keras`")
    assert after["value"].startswith("+") and after["ratio"] >= 1.0
    assert find(rows, "Import: heavy modules")["met"] is True


@pytest.mark.slow
def test_bench_backends_smoke(tmp_path):
    rows = smoke_rows(tmp_path, "bench_backends.py", "--backends", "tensorflow,jax")
    tf_row = find(rows, "Backends: training time per epoch on tensorflow")
    jax_row = find(rows, "Backends: training time per epoch on jax")
    assert "images/s" in tf_row["value"] and tf_row["ratio"] is None
    assert jax_row["ratio"] > 0 and jax_row["baseline"].startswith("tensorflow: ")


@pytest.mark.slow
def test_bench_scaling_smoke(tmp_path):
    rows = smoke_rows(tmp_path, "bench_scaling.py", "--variants", "tf-one,tf-mirrored,tf-mwms")
    one = find(rows, "Scaling: training step, global batch 64, TensorFlow, one device")
    mirrored = find(rows, "Scaling: training step, global batch 64, TensorFlow, MirroredStrategy")
    workers = find(rows, "Scaling: training step, global batch 64, TensorFlow, MultiWorkerMirroredStrategy")
    assert "1 replica" in one["value"] and "2 replicas" in mirrored["value"] and "2 replicas" in workers["value"]
    for row in (mirrored, workers):
        assert row["ratio"] > 0 and row["baseline"].startswith("TensorFlow, one device: ")


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_bench_scaling_smoke_jax_over_two_processes(tmp_path):
    rows = smoke_rows(tmp_path, "bench_scaling.py", "--variants", "jax-one,jax-procs")
    processes = find(rows, "Scaling: training step, global batch 64, JAX, DataParallel over 2 processes")
    assert "2 replicas" in processes["value"] and processes["ratio"] > 0
    assert processes["baseline"].startswith("JAX, one device: ")


@pytest.mark.slow
def test_bench_tuning_smoke_hands_on_a_configuration_build_cnn_takes(tmp_path):
    from keras_cnnlab import build_cnn, default_recipe

    rows = smoke_rows(tmp_path, "bench_tuning.py")
    overhead = [row for row in rows if "tuner overhead per trial" in row["figure"]]
    assert len(overhead) == 2 and all(row["target"] == "< 10%" for row in overhead)
    freeze = find(rows, "Tuning: Hyperband (max_epochs=2, factor 3), search time with CNNHyperModel(freeze_gc=True)")
    assert freeze["ratio"] > 0 and freeze["baseline"].startswith("freeze_gc=False (the default): ")
    retrained = find(rows, "Tuning: Hyperband's best configuration retrained")
    config = dict(retrained["config"])
    kwargs, recipe, strength = bench_accuracy.split_config(config, default_recipe("digits"))
    model = build_cnn((8, 8, 1), 10, **kwargs)  # what bench_accuracy.py does with it
    assert model.output_shape == (None, 10) and recipe.epochs >= 1 and strength >= 0


@pytest.mark.slow
def test_bench_trace_smoke(tmp_path):
    rows = smoke_rows(tmp_path, "bench_trace.py")
    traced = [row for row in rows if row["figure"].startswith("Trace: trace_shapes")]
    assert len(traced) == 2 and all(row["met"] is True for row in traced)  # 20 layers: milliseconds
    assert find(rows, "Trace: ShapeTrace.to_text()")["baseline"].startswith("model.summary(): ")


@pytest.mark.slow
def test_bench_callbacks_smoke(tmp_path):
    rows = smoke_rows(tmp_path, "bench_callbacks.py", printed=False)
    ours = [row for row in rows if row["figure"].endswith(("to a file", "to a terminal"))
            and "RichTrainingReport" in row["figure"] and row["figure"].startswith("fit")]
    assert len(ours) == 2 and all(isinstance(row["met"], bool) and row["ratio"] > 0 for row in ours)
    assert find(rows, "fit, 1 epoch(s) x 8 steps of 32 on digits: verbose=0 again (noise floor)")


@pytest.mark.slow
def test_run_all_smoke_runs_the_gpu_script_on_cpu(tmp_path):
    out = tmp_path / "RESULTS.md"
    done = run_script(BENCH / "run_all.py", "--smoke", "--only", "gpu", "--output", str(out),
                      "--json-dir", str(tmp_path / "json"))
    assert f"wrote {out}" in done.stdout
    rows = json.loads((tmp_path / "json" / "gpu.json").read_text())
    assert [_common.row_problems(row) for row in rows] == [[], []]
    throughput = find(rows, "GPU script: training throughput")
    assert throughput["value"].endswith("images/s") and "CPU" in throughput["figure"]
    assert throughput["command"] == "KERAS_BACKEND=tensorflow python bench/gpu/bench_gpu.py --cpu --smoke"
    text = out.read_text()
    assert text.startswith("# Benchmark results (smoke run")
    for row in rows:
        assert f"`{row['command']}`" in text and row["figure"] in text
    assert "| gpu | ok |" in text
