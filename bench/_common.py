"""Helpers shared by the benchmark scripts: rows, machine description, alternating timing.

Every script in ``bench/`` accepts ``--smoke`` (a tiny run, seconds) and
``--json PATH``; with ``--json`` it writes a list of rows, each a dict with the
keys of :data:`ROW_KEYS`:

- ``figure``: what is measured, e.g. ``"ConvBlock network: time per epoch"``.
- ``value``: the measured value as text with its unit (numbers are accepted).
- ``baseline``: the comparison it is measured against, as text, or ``None``.
- ``ratio``: value / baseline as a float, or ``None``.
- ``target``: the target as text (``"<= 1.02"``), or ``None``.
- ``met``: ``True``/``False`` against the target, ``None`` when there is none.
- ``command``: the command line that produced the row.

Rows may carry more keys (``machine``, ``note``, ``config``); readers ignore
those they do not know.

Timings compare variants in one process and alternate them round by round
(A B, then B A, ...), so drift on a shared machine hits every variant alike;
figures are medians over the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
ROW_KEYS = ("figure", "value", "baseline", "ratio", "target", "met", "command")
BACKEND_PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy"}

# Benchmarks measure this checkout, whatever else is installed.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# --- command line -----------------------------------------------------------------


def make_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the two options every benchmark script takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--smoke", action="store_true", help="a tiny run (seconds) that checks the script works")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON to PATH")
    return parser


def command_line(argv: Sequence[str] | None = None, *, script: str | None = None) -> str:
    """The command that reproduces this run, from the repository root.

    The backend is part of the command when ``KERAS_BACKEND`` is set, and
    ``--json`` (where the rows went, not what they are) is left out.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--json":
            skip = True
            continue
        if arg.startswith("--json="):
            continue
        kept.append(arg)
    path = Path(script or sys.argv[0]).resolve()
    try:
        shown = str(path.relative_to(ROOT))
    except ValueError:
        shown = str(path)
    prefix = f"KERAS_BACKEND={os.environ['KERAS_BACKEND']} " if os.environ.get("KERAS_BACKEND") else ""
    return prefix + shlex.join(["python", shown, *kept])


# --- machine --------------------------------------------------------------------


def package_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def current_backend() -> str:
    """The Keras backend in use (without importing keras when it is not loaded yet)."""
    if "keras" in sys.modules:
        try:
            return sys.modules["keras"].backend.backend()
        except AttributeError:
            pass
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    config = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "keras.json"
    try:
        return json.loads(config.read_text()).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


def usable_cores() -> int:
    """Cores this process may run on (its affinity), or ``os.cpu_count()``."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def machine_info(backend: str | None = None, *, gpu: str | None = None) -> dict:
    """Cores, CPU, backend and library versions: what a reader needs to weigh a figure."""
    backend = backend or current_backend()
    info = {
        "cores": usable_cores(),
        "cpu": _cpu_model(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "backend": backend,
        "backend_version": package_version(BACKEND_PACKAGES.get(backend, backend)),
        "keras": package_version("keras"),
        "numpy": package_version("numpy"),
        "keras_cnnlab": _package_version(),
        "gpu": gpu,
    }
    try:
        info["load_average"] = round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        info["load_average"] = None
    return info


def _package_version() -> str | None:
    try:
        import keras_cnnlab

        return keras_cnnlab.__version__
    except ImportError:
        return None


def machine_summary(info: dict | None = None) -> str:
    """One line, e.g. ``"2 cores, tensorflow 2.21.0, keras 3.15.1, python 3.11.7"``."""
    info = info or machine_info()
    parts = [f"{info['cores']} cores" if not info.get("gpu") else f"{info['gpu']}, {info['cores']} cores"]
    backend = info["backend"]
    if info.get("backend_version"):
        backend += f" {info['backend_version']}"
    parts.append(backend)
    if info.get("keras"):
        parts.append(f"keras {info['keras']}")
    parts.append(f"python {info['python']}")
    return ", ".join(parts)


def gpu_name() -> str | None:
    """Name of the first GPU the loaded backend sees, or ``None``."""
    backend = current_backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                details = tf.config.experimental.get_device_details(gpus[0])
                return details.get("device_name", "GPU")
        elif backend == "jax":
            import jax

            devices = [d for d in jax.devices() if d.platform == "gpu"]
            if devices:
                return devices[0].device_kind
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return torch.cuda.get_device_name(0)
    except Exception:  # a broken driver must not stop a CPU benchmark
        return None
    return None


# --- timing ---------------------------------------------------------------------


@dataclass
class Timings:
    """Seconds per variant, one sample per round, in the order they ran."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    @property
    def rounds(self) -> int:
        """Timed rounds completed (each variant ran once per round)."""
        return min((len(v) for v in self.samples.values()), default=0)

    def median(self, name: str) -> float:
        return statistics.median(self.samples[name])

    def spread(self, name: str) -> float:
        """Half the interquartile range, as a fraction of the median."""
        values = sorted(self.samples[name])
        if len(values) < 4:
            return (values[-1] - values[0]) / 2 / self.median(name) if len(values) > 1 else 0.0
        q1, _, q3 = statistics.quantiles(values, n=4)
        return (q3 - q1) / 2 / self.median(name)

    def ratio(self, name: str, baseline: str) -> float:
        """Median of the per-round ratios ``name / baseline``.

        Each round times both variants back to back, so a round's ratio is
        taken under one machine load; the median drops rounds disturbed by
        other processes.
        """
        pairs = zip(self.samples[name], self.samples[baseline])
        return statistics.median(a / b for a, b in pairs)


def alternate(
    variants: dict[str, Callable[[], float | None]],
    *,
    repeats: int,
    warmup: int = 1,
    max_seconds: float | None = None,
    min_repeats: int = 3,
) -> Timings:
    """Run each variant ``repeats`` times, alternating, and time each run.

    Round ``r`` runs the variants in their given order when ``r`` is even and
    reversed when odd (A B, B A, A B, ...), which cancels a linear drift in
    machine speed. A variant that returns a float reports its own time (e.g. an
    epoch measured by a callback); otherwise the wall time of the call counts.
    ``warmup`` untimed rounds come first (tracing, compilation, caches).

    ``max_seconds`` bounds the timed rounds on a slow or crowded machine: no
    new round starts once it is spent, provided ``min_repeats`` rounds ran.
    ``Timings.rounds`` says how many did.
    """
    if repeats < 1:
        raise ValueError(f"Invalid value for argument `repeats`. Expected >= 1. Received repeats={repeats}.")
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            variants[name]()
    timings = Timings({name: [] for name in names})
    began = time.perf_counter()
    for r in range(repeats):
        if max_seconds is not None and r >= min_repeats and time.perf_counter() - began > max_seconds:
            break
        for name in names if r % 2 == 0 else reversed(names):
            start = time.perf_counter()
            reported = variants[name]()
            elapsed = time.perf_counter() - start
            timings.samples[name].append(float(reported) if reported is not None else elapsed)
            timings.order.append(name)
    return timings


class EpochTimer:
    """Seconds of the last epoch, measured inside ``fit`` (data set-up excluded).

    Pass ``timer.callback`` to ``fit``; read ``timer.seconds`` after it.
    """

    def __init__(self):
        import keras

        timer = self

        class _EpochTimerCallback(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                timer.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                timer.seconds = time.perf_counter() - timer.start

        self.callback = _EpochTimerCallback()
        self.start = self.seconds = 0.0


def fmt_seconds(seconds: float) -> str:
    """``0.0123`` -> ``"12.3 ms"``; ``12.3`` -> ``"12.3 s"``."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} us"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


# --- rows -----------------------------------------------------------------------


def make_row(
    figure: str,
    value,
    *,
    baseline: str | None = None,
    ratio: float | None = None,
    target: str | None = None,
    met: bool | None = None,
    command: str | None = None,
    **extra,
) -> dict:
    """A result row (see the module docstring); ``command`` defaults to this run's."""
    row = {
        "figure": figure,
        "value": value,
        "baseline": baseline,
        "ratio": None if ratio is None else float(ratio),
        "target": target,
        "met": None if met is None else bool(met),
        "command": command or command_line(),
    }
    row.update(extra)
    problems = row_problems(row)
    if problems:
        raise ValueError(f"Invalid benchmark row {row!r}: {'; '.join(problems)}.")
    return row


def row_problems(row) -> list[str]:
    """What is wrong with ``row`` (empty when it is well-formed)."""
    if not isinstance(row, dict):
        return [f"a row must be a dict, not {type(row).__name__}"]
    problems = [f"missing key {key!r}" for key in ROW_KEYS if key not in row]
    if problems:
        return problems
    if not isinstance(row["figure"], str) or not row["figure"]:
        problems.append("`figure` must be a non-empty string")
    if not isinstance(row["value"], (str, int, float)) or isinstance(row["value"], bool):
        problems.append("`value` must be a string or a number")
    if row["baseline"] is not None and not isinstance(row["baseline"], (str, int, float)):
        problems.append("`baseline` must be a string, a number or null")
    if row["ratio"] is not None and (
        not isinstance(row["ratio"], (int, float)) or isinstance(row["ratio"], bool)
    ):
        problems.append("`ratio` must be a number or null")
    if row["target"] is not None and not isinstance(row["target"], str):
        problems.append("`target` must be a string or null")
    if row["met"] not in (True, False, None):
        problems.append("`met` must be true, false or null")
    if not isinstance(row["command"], str) or not row["command"]:
        problems.append("`command` must be a non-empty string")
    return problems


def fmt_value(value) -> str:
    """A cell: numbers to 4 significant digits, ``None`` to ``-``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def fmt_met(row: dict) -> str:
    met = row.get("met")
    if met is None:
        return "-" if not row.get("target") else "n/a"
    return f"yes ({row['target']})" if met else f"**no** ({row['target']})"


def markdown_table(rows: Sequence[dict], *, machine: bool = False, command: bool = True) -> str:
    """The rows as a Markdown table."""
    header = ["figure", "value", "comparison", "ratio", "target met?"]
    if machine:
        header.append("machine")
    if command:
        header.append("command")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [
            fmt_value(row.get("figure")),
            fmt_value(row.get("value")),
            fmt_value(row.get("baseline")),
            "-" if row.get("ratio") is None else f"{row['ratio']:.3f}",
            fmt_met(row),
        ]
        if machine:
            cells.append(fmt_value(row.get("machine")))
        if command:
            cells.append(f"`{row['command']}`" if row.get("command") else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_json(rows: Sequence[dict], path: str | os.PathLike) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(list(rows), indent=2) + "\n", encoding="utf-8")


def emit(rows: Sequence[dict], args: argparse.Namespace, *, title: str, info: dict | None = None) -> None:
    """Print the rows as a table with the machine and command; write JSON when asked."""
    info = info or machine_info()
    summary = machine_summary(info)
    rows = [{**row, "machine": row.get("machine") or summary} for row in rows]
    print(f"\n## {title}\n")
    print(f"machine: {summary}; load average {info.get('load_average')}")
    print(f"command: {command_line()}\n")
    print(markdown_table(rows, command=False))
    if getattr(args, "json", None):
        write_json(rows, args.json)


# -- worker processes that time one epoch per request ---------------------------------


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 now."""
    import socket

    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def serve_epochs(epoch: Callable[[], float], ready: dict) -> int:
    """The worker's side: print ``READY <json>``, then answer each ``epoch`` line on stdin
    with ``EPOCH <seconds>`` until any other line (or the end of stdin)."""
    print("READY " + json.dumps(ready), flush=True)
    for line in sys.stdin:
        if line.strip() != "epoch":
            break
        print(f"EPOCH {epoch()!r}", flush=True)
    return 0


class EpochWorker:
    """The benchmark's side of a worker process started with ``command``: one process per
    variant, so each keeps its own backend, devices and threads; ``ready()`` reads its
    READY line into ``info``, ``epoch()`` asks for one timed epoch, ``close()`` ends it."""

    def __init__(self, name: str, command: Sequence[str], env: dict | None = None):
        import subprocess

        self.name = name
        env = dict(os.environ if env is None else env)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(
            list(command), env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )
        self.info = None
        self.error = None

    def _read(self, prefix):
        for line in self.process.stdout:
            if line.startswith(prefix):
                return line[len(prefix):].strip()
        self.process.wait()  # it died: keep the end of its error output for the row
        tail = self.process.stderr.read().strip().splitlines()[-3:]
        self.error = f"exit {self.process.returncode}: {' '.join(tail)[-300:]}"
        return None

    def ready(self) -> bool:
        text = self._read("READY ")
        if text is not None:
            self.info = json.loads(text)
        return text is not None

    def epoch(self) -> float:
        self.ask()
        return self.answer()

    def ask(self) -> None:
        """Ask for one epoch without waiting for it (:meth:`answer` waits)."""
        self.process.stdin.write("epoch\n")
        self.process.stdin.flush()

    def answer(self) -> float:
        """The seconds of the epoch asked for."""
        text = self._read("EPOCH ")
        if text is None:
            raise RuntimeError(f"{self.name} worker failed: {self.error}")
        return float(text)

    def close(self):
        import subprocess

        if self.process.poll() is None:
            try:
                self.process.stdin.write("quit\n")
                self.process.stdin.close()
                self.process.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
