"""Import time: what ``import keras_cnnlab`` adds to ``import keras``, in fresh processes.

Each round starts three fresh interpreters, in alternating order:

- ``import keras`` alone (the baseline);
- ``import keras``, then ``import keras_cnnlab``, then the everyday public
  names (``from keras_cnnlab import build_cnn, ConvBlock, ClassifierHead,
  compile_for, load_dataset``), each step timed inside the process;
- ``import keras_cnnlab`` alone, which must not load any backend.

Quoted: medians over the rounds, and which heavy modules (rich, keras_tuner,
matplotlib, scikit-learn, the backends) keras_cnnlab loads beyond those keras
itself loads.

    python bench/bench_import.py            # about a minute on 2 cores
    python bench/bench_import.py --smoke    # seconds
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

import _common

HEAVY = ("rich", "keras_tuner", "matplotlib", "sklearn", "tensorboard", "tensorflow", "jax", "torch", "keras")
RATIO_TARGET = 1.05
PUBLIC = "from keras_cnnlab import build_cnn, ConvBlock, ClassifierHead, compile_for, load_dataset"

_PROBE = """
import json, sys, time
heavy = {heavy!r}
loaded = lambda: sorted(m for m in heavy if m in sys.modules)
out = {{}}
t0 = time.perf_counter()
if {with_keras!r}:
    import keras
    out["keras"] = time.perf_counter() - t0
    out["after_keras"] = loaded()
if {with_lab!r}:
    t1 = time.perf_counter()
    import keras_cnnlab
    out["lab"] = time.perf_counter() - t1
    out["after_lab"] = loaded()
    if {with_keras!r}:
        t2 = time.perf_counter()
        {public}
        out["public"] = time.perf_counter() - t2
        out["after_public"] = loaded()
print("RESULT " + json.dumps(out))
"""


def probe(*, with_keras: bool, with_lab: bool) -> dict:
    """Run one fresh interpreter; return its in-process timings and loaded modules."""
    code = _PROBE.format(heavy=HEAVY, with_keras=with_keras, with_lab=with_lab, public=PUBLIC)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_common.ROOT), env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"import probe failed (exit {done.returncode}):\n{done.stderr[-2000:]}")


def main(argv=None) -> int:
    parser = _common.make_parser(__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=None, help="rounds of fresh processes (default 5; smoke 1)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.smoke else 5)

    samples = {"keras": [], "both": [], "alone": []}
    variants = {
        "keras": lambda: samples["keras"].append(probe(with_keras=True, with_lab=False)),
        "both": lambda: samples["both"].append(probe(with_keras=True, with_lab=True)),
        "alone": lambda: samples["alone"].append(probe(with_keras=False, with_lab=True)),
    }
    _common.alternate(variants, repeats=repeats, warmup=0)

    keras_time = statistics.median(s["keras"] for s in samples["keras"])
    lab_time = statistics.median(s["lab"] for s in samples["both"])
    public_time = statistics.median(s["lab"] + s["public"] for s in samples["both"])
    alone_time = statistics.median(s["lab"] for s in samples["alone"])
    by_keras = set(samples["keras"][0]["after_keras"])
    by_lab = set(samples["both"][0]["after_lab"]) - by_keras
    by_public = set(samples["both"][0]["after_public"]) - by_keras
    alone_loads = samples["alone"][0]["after_lab"]

    backend = _common.current_backend()
    baseline = f"import keras ({backend}): {_common.fmt_seconds(keras_time)}"
    rows = [
        _common.make_row(
            "Import: `import keras_cnnlab` after `import keras`",
            f"+{_common.fmt_seconds(lab_time)}",
            baseline=baseline,
            ratio=(keras_time + lab_time) / keras_time,
            target=f"<= {RATIO_TARGET}",
            met=(keras_time + lab_time) / keras_time <= RATIO_TARGET,
        ),
        _common.make_row(
            f"Import: `import keras_cnnlab` + `{PUBLIC}` after `import keras`",
            f"+{_common.fmt_seconds(public_time)}",
            baseline=baseline,
            ratio=(keras_time + public_time) / keras_time,
            target=f"<= {RATIO_TARGET}",
            met=(keras_time + public_time) / keras_time <= RATIO_TARGET,
        ),
        _common.make_row(
            "Import: `import keras_cnnlab` alone",
            f"{_common.fmt_seconds(alone_time)}; loads {', '.join(alone_loads) or 'no heavy module'}",
            target="loads no backend",
            met=not alone_loads,
        ),
        _common.make_row(
            "Import: heavy modules loaded by keras_cnnlab and its everyday names beyond keras's own",
            ", ".join(sorted(by_lab | by_public)) or "none",
            baseline=f"keras itself loads: {', '.join(sorted(by_keras))}",
            target="none of rich, keras_tuner, matplotlib, sklearn",
            met=not ({"rich", "keras_tuner", "matplotlib", "sklearn"} & (by_lab | by_public)),
        ),
    ]
    _common.emit(rows, args, title="Import time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
