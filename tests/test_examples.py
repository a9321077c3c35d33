"""Every script in examples/ runs with --smoke, and documents what it measured.

The scripts run one after another in one subprocess (the backend is imported
once), each as ``__main__`` with ``--smoke``, the way a user starts them.
"""

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))
TUTORIALS = [name for name in EXAMPLES if name.startswith("tutorial_")]
# The tutorials' scripts and bring-your-own-model; the other examples document a feature each.
OURS = [*TUTORIALS, "bring_your_own_model.py", "default_recipe.py"]

RUNNER = textwrap.dedent(
    """
    import contextlib, io, json, runpy, sys, time, traceback
    import keras
    folder, names, report = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
    sys.path.insert(0, folder)
    results = {}
    for name in names:
        sys.argv = [f"{folder}/{name}", "--smoke"]
        out = io.StringIO()
        start, cpu = time.perf_counter(), time.process_time()
        code = 0
        with contextlib.redirect_stdout(out):
            try:
                runpy.run_path(sys.argv[0], run_name="__main__")
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            except BaseException:
                code, out = 1, io.StringIO(out.getvalue() + traceback.format_exc())
        keras.backend.clear_session()
        results[name] = {"code": code, "seconds": time.perf_counter() - start,
                         "cpu_seconds": time.process_time() - cpu, "output": out.getvalue()}
    with open(report, "w") as f:
        json.dump(results, f)
    """
)


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
    report = tmp_path_factory.mktemp("examples") / "runs.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, str(ROOT / "examples"), ",".join(EXAMPLES), str(report)],
        capture_output=True, text=True, env=env, cwd=tmp_path_factory.mktemp("cwd"), timeout=2400,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(report.read_text())


def test_one_script_per_tutorial_and_bring_your_own_model():
    assert [name[:10] for name in TUTORIALS] == [f"tutorial_{x}" for x in "abcde"]
    assert "bring_your_own_model.py" in EXAMPLES


@pytest.mark.slow
@pytest.mark.xdist_group("examples")
@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_with_smoke(name, smoke_runs):
    run = smoke_runs[name]
    assert run["code"] == 0, run["output"][-3000:]
    output = run["output"]
    assert "Traceback" not in output
    if name in OURS:
        assert "Epoch 1/" in output  # the training report
        assert "test" in output.lower(), output[-2000:]  # the figure it reports


@pytest.mark.parametrize("name", OURS)
def test_example_docstring_states_its_figures(name):
    source = (ROOT / "examples" / name).read_text()
    doc = ast.get_docstring(ast.parse(source))
    assert doc, f"{name} has no module docstring"
    assert "<<" not in doc, f"{name}: a figure is still to be measured"
    assert "Measured" in doc
    assert f"python examples/{name}" in doc  # the command that measured it
    assert "--smoke" in doc and "s" in doc.split("--smoke")[-1]
    assert "if __name__ == \"__main__\":" in source
    assert "--smoke" in source
