"""Run every benchmark, collect their JSON rows and rewrite bench/RESULTS.md.

Each script runs in its own process with ``--json``; a script that is missing
gives a "not available" row, one that fails gives a "failed" row with the end
of its error output, and the other scripts still run. The table lists, per
row: figure, value, the comparison it is measured against, the ratio, whether
the target is met, the machine and the command that made it; a closing list
names every target met or missed. A full run (no ``--smoke``, no ``--output``)
also refills the figures that docs/ quotes between ``<!-- bench:NAME -->``
and ``<!-- /bench -->`` markers, from the same rows.

    python bench/run_all.py                  # all benchmarks, rewrites bench/RESULTS.md (make bench)
    python bench/run_all.py --smoke          # every script's smoke run, to a temporary file
    python bench/run_all.py --only blocks,import   # to a temporary file; refills the docs' figures
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import _common


@dataclass(frozen=True)
class Benchmark:
    name: str
    path: str  # relative to the bench directory
    item: int  # position in the results table
    args: tuple[str, ...] = field(default=())
    timeout: float = 480.0  # seconds, full run; smoke runs get 300


# In running order: the tuner search runs before the accuracy benchmark, which
# re-evaluates the configuration it found.
BENCHMARKS = (
    Benchmark("blocks", "bench_blocks.py", 1),
    Benchmark("callbacks", "bench_callbacks.py", 2),
    Benchmark("tuning", "bench_tuning.py", 4, timeout=900.0),
    Benchmark("accuracy", "bench_accuracy.py", 3, timeout=2400.0),
    Benchmark("augment", "bench_augment.py", 5),
    Benchmark("trace", "bench_trace.py", 6),
    Benchmark("import", "bench_import.py", 7),
    Benchmark("backends", "bench_backends.py", 8),
    Benchmark("gpu", "gpu/bench_gpu.py", 9),
    Benchmark("scaling", "bench_scaling.py", 10, timeout=600.0),
)


def has_gpu() -> bool:
    """Whether an NVIDIA GPU answers, without importing a backend."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    try:
        done = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and "GPU" in done.stdout


@dataclass
class Outcome:
    benchmark: Benchmark
    rows: list
    seconds: float
    status: str  # "ok", "missing", "failed"


def run_benchmark(bench: Benchmark, *, bench_dir: Path, smoke: bool, workdir: Path, timeout: float,
                  gpu: bool) -> Outcome:
    script = bench_dir / bench.path
    args = list(bench.args)
    if bench.name == "gpu" and not gpu:
        args.append("--cpu")
    # The tuning benchmark ran first and left its rows here.
    if bench.name == "accuracy" and (workdir / "tuning.json").exists():
        args += ["--tuning-json", str(workdir / "tuning.json")]
    if smoke:
        args.append("--smoke")
    command = _common.command_line(args, script=str(script))
    if not script.exists():
        return Outcome(bench, [_common.make_row(
            f"{bench.name}: {bench.path}", "not available (script missing)", command=command,
        )], 0.0, "missing")

    out = workdir / f"{bench.name}.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_common.ROOT), env.get("PYTHONPATH")) if p)
    print(f"\n=== {bench.name}: {command}", flush=True)
    start = time.perf_counter()
    errors = workdir / f"{bench.name}.stderr"
    with open(errors, "w", encoding="utf-8") as stderr:
        try:
            done = subprocess.run(
                [sys.executable, str(script), *args, "--json", str(out)],
                env=env, cwd=_common.ROOT, stderr=stderr, timeout=timeout, check=False,
            )
            code = done.returncode
        except subprocess.TimeoutExpired:
            code = None
    seconds = time.perf_counter() - start
    print(f"=== {bench.name}: {seconds:.0f} s", flush=True)

    def failed(reason):
        return Outcome(bench, [_common.make_row(
            f"{bench.name}: {bench.path}", f"failed ({reason})", command=command,
        )], seconds, "failed")

    if code is None:
        return failed(f"timed out after {timeout:.0f} s")
    if code != 0:
        lines = [line for line in errors.read_text(errors="replace").splitlines() if line.strip()]
        return failed(f"exit {code}: {lines[-1][-300:] if lines else 'no error output'}")
    try:
        rows = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return failed(f"no JSON rows: {type(error).__name__}")
    if not isinstance(rows, list) or not rows:
        return failed("the JSON holds no rows")
    checked = []
    for row in rows:
        problems = _common.row_problems(row)
        if problems:
            checked.append(_common.make_row(
                f"{bench.name}: malformed row", f"failed ({'; '.join(problems)})", command=command,
            ))
        else:
            checked.append(row)
    return Outcome(bench, checked, seconds, "ok")


def targets_section(rows) -> list[str]:
    """One line per row with a target (met, missed, not measured), with the reason for misses."""
    lines = []
    for row in rows:
        if not row.get("target"):
            continue
        if row.get("met") is True:
            lines.append(f"- met: {row['figure']}: {_common.fmt_value(row['value'])} ({row['target']})")
        elif row.get("met") is False:
            ratio = "" if row.get("ratio") is None else f", ratio {row['ratio']:.3f}"
            reason = f" Note: {row['note']}" if row.get("note") else ""
            lines.append(
                f"- **missed**: {row['figure']}: {_common.fmt_value(row['value'])}{ratio} "
                f"(target {row['target']}).{reason}"
            )
        else:
            lines.append(f"- not measured: {row['figure']} (target {row['target']})")
    not_run = [row for row in rows if str(row.get("value", "")).startswith(("not available", "failed"))]
    for row in not_run:
        lines.append(f"- not run: {row['figure']}: {row['value']}")
    return lines


DOCS_DIR = _common.ROOT / "docs"
_MARKER = re.compile(r"(<!-- bench:(?P<name>[\w-]+)(?P<filter>(?: [^>]*?)?) -->\n).*?(<!-- /bench -->)", re.S)


def update_docs(outcomes, *, docs_dir: Path = DOCS_DIR, stamp: str) -> list[Path]:
    """Refill the figures the documentation quotes from the benchmarks that ran.

    A page marks a place with ``<!-- bench:NAME -->`` ... ``<!-- /bench -->``,
    optionally ``<!-- bench:NAME figure-prefix -->`` to keep only the rows whose
    figure starts with that prefix; the place gets those rows as a table, with
    the command and the date. Places of benchmarks that did not run stay as
    they are. Returns the pages rewritten.
    """
    by_name = {o.benchmark.name: o for o in outcomes if o.status == "ok"}
    written = []
    for page in sorted(Path(docs_dir).glob("*.md")):
        text = page.read_text(encoding="utf-8")

        def refill(match):
            outcome = by_name.get(match["name"])
            if outcome is None:
                return match[0]
            prefix = match["filter"].strip()
            rows = [r for r in outcome.rows if r["figure"].startswith(prefix)]
            commands = sorted({r["command"] for r in rows})
            table = _common.markdown_table(rows, command=False)
            source = ", ".join(f"`{c}`" for c in commands)
            return f"{match[1]}{table}\n\nMeasured by {source} on {stamp} (bench/RESULTS.md has every figure).\n{match[4]}"

        new = _MARKER.sub(refill, text)
        if new != text:
            page.write_text(new, encoding="utf-8")
            written.append(page)
    return written


def render(outcomes, *, info, total, smoke, command) -> str:
    summary = _common.machine_summary(info)
    ordered = sorted(outcomes, key=lambda o: o.benchmark.item)
    rows = [{**row, "machine": row.get("machine") or summary} for o in ordered for row in o.rows]
    versions = ", ".join(
        f"{name} {_common.package_version(name) or '-'}" for name in ("keras", "tensorflow", "jax", "torch", "numpy", "scikit-learn")
    )
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    parts = [
        "# Benchmark results" + (" (smoke run: sizes too small to mean anything)" if smoke else ""),
        "",
        f"Written by `{command}` on {stamp} in {total / 60:.1f} min; rerun it (or `make bench`) to refresh. "
        "Each figure comes from one run of its script, which compares variants in one process, "
        "alternating them round by round and quoting medians, because the machine may be shared.",
        "",
        f"Machine: {info['cores']} cores ({info.get('cpu') or 'unknown CPU'}), {info['os']}, "
        f"python {info['python']}, {versions}; load average {info.get('load_average')} at the start.",
        "",
        _common.markdown_table(rows, machine=True),
        "",
        "## Targets",
        "",
        *(targets_section(rows) or ["- no row has a target"]),
        "",
        "## Run time per script",
        "",
        "| benchmark | status | seconds |",
        "|---|---|---|",
        *(f"| {o.benchmark.name} | {o.status} | {o.seconds:.0f} |" for o in outcomes),
        f"| total | | {total:.0f} |",
        "",
    ]
    return "\n".join(parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny runs; writes to a temporary file, not RESULTS.md")
    parser.add_argument("--only", help="comma-separated benchmark names: " + ", ".join(b.name for b in BENCHMARKS))
    parser.add_argument("--output", help="where to write the table (default bench/RESULTS.md; a temporary file "
                                         "with --smoke or --only, whose rows go into RESULTS.md by hand)")
    parser.add_argument(
        "--timeout", type=float, default=None,
        help="seconds per script (default 480, 900 for tuning and accuracy; smoke 300)",
    )
    parser.add_argument("--json-dir", help="keep each script's JSON rows in this folder (default: a temporary one)")
    parser.add_argument("--bench-dir", default=str(_common.BENCH_DIR), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    chosen = list(BENCHMARKS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(names) - {b.name for b in BENCHMARKS})
        if unknown:
            parser.error(f"unknown benchmark(s) {unknown}; choose from {[b.name for b in BENCHMARKS]}")
        chosen = [b for b in BENCHMARKS if b.name in names]
    if args.output:
        output = Path(args.output)
    elif args.smoke or args.only:  # a partial run must not replace the whole RESULTS.md
        fd, name = tempfile.mkstemp(prefix="bench_results_", suffix=".md")
        os.close(fd)
        output = Path(name)
    else:
        output = _common.BENCH_DIR / "RESULTS.md"
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")

    info = _common.machine_info()
    gpu = has_gpu()
    command = _common.command_line(argv)
    start = time.perf_counter()
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="bench_") as scratch:
        workdir = Path(args.json_dir or scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        for bench in chosen:
            outcomes.append(run_benchmark(
                bench, bench_dir=Path(args.bench_dir), smoke=args.smoke, workdir=workdir,
                timeout=args.timeout or (300 if args.smoke else bench.timeout), gpu=gpu,
            ))
    total = time.perf_counter() - start
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(outcomes, info=info, total=total, smoke=args.smoke, command=command), encoding="utf-8")
    print(f"\nwrote {output} ({total / 60:.1f} min)")
    if args.only and not args.smoke and args.output is None:
        print(f"bench/RESULTS.md is unchanged: replace its rows of {args.only} with those of {output}")
    if not args.smoke and args.output is None:
        stamp = datetime.datetime.now().strftime("%Y-%m-%d")
        for page in update_docs(outcomes, stamp=stamp):
            print(f"updated the figures in {page.relative_to(_common.ROOT)}")
    failed = [o.benchmark.name for o in outcomes if o.status == "failed"]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
