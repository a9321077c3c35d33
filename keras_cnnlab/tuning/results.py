"""results_table: the trials of a search as a structured object first, a rich table second."""

from __future__ import annotations

import dataclasses
import math
import os
import re

from keras_cnnlab.display.console import make_console, recording_console
from keras_cnnlab.display.formatting import compact_number

__all__ = ["TrialRow", "TuningResults", "results_table", "format_hyperparameters"]

_TUNER_KEYS = ("tuner/epochs", "tuner/initial_epoch", "tuner/bracket", "tuner/round", "tuner/trial_id")
_BLOCK_KEY = re.compile(r"^block([1-9][0-9]*)_(.+)$")


@dataclasses.dataclass(frozen=True)
class TrialRow:
    """One trial of a search.

    Attributes:
        trial_id: KerasTuner's id of the trial.
        status: ``"COMPLETED"``, ``"RUNNING"``, ``"INVALID"``, ``"FAILED"``, ...
        score: the objective's value (``None`` until the trial completes).
        hyperparameters: the active hyperparameter values.
        params: parameter count of the trial's model (``None`` if not recorded).
        epochs: epochs trained in this trial (``None`` if not recorded).
        final_epoch: Hyperband's ``tuner/epochs`` (the epoch the trial trains up to).
        best_step: the epoch that gave the score.
        seconds: time spent in ``model.fit``.
    """

    trial_id: str
    status: str
    score: float | None
    hyperparameters: dict
    params: int | None = None
    epochs: int | None = None
    final_epoch: int | None = None
    best_step: int | None = None
    seconds: float | None = None


def _metric(trial, name):
    metrics = trial.metrics
    if not metrics.exists(name):
        return None
    value = metrics.get_last_value(name)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _active_values(hps) -> dict:
    values = {}
    for name, value in hps.values.items():
        try:
            active = name in _TUNER_KEYS or hps.is_active(name)
        except (KeyError, ValueError):
            active = True
        if active:
            values[name] = value
    return values


def _row(trial) -> TrialRow:
    values = _active_values(trial.hyperparameters)
    params = _metric(trial, "params")
    epochs = _metric(trial, "epochs_trained")
    score = trial.score
    if score is not None and isinstance(score, float) and math.isnan(score):
        score = None
    final = values.get("tuner/epochs")
    return TrialRow(
        trial_id=str(trial.trial_id),
        status=str(trial.status),
        score=None if score is None else float(score),
        hyperparameters=values,
        params=None if params is None else int(round(params)),
        epochs=None if epochs is None else int(round(epochs)),
        final_epoch=None if final is None else int(final),
        best_step=trial.best_step,
        seconds=_metric(trial, "fit_seconds"),
    )


def _block_text(v: dict) -> str:
    parts = []
    if "filters" in v:
        parts.append(f"{v.pop('filters')} filters")
    if "kernel_size" in v:
        k = v.pop("kernel_size")
        parts.append(f"{k}x{k}")
    if "convs" in v:
        parts.append(f"x{v.pop('convs')}")
    downsample = v.pop("downsample", None)
    factor = v.pop("downsample_factor", None)
    if downsample is not None:
        parts.append(downsample if downsample == "none" or factor is None else f"{downsample} {factor}")
    if v.pop("batch_norm", False):
        parts.append("bn")
    act = v.pop("activation", None)
    if act is not None and act != "relu":
        parts.append(act)
    if "dropout" in v:
        parts.append(f"drop {compact_number(v.pop('dropout'))}")
    parts.extend(f"{k}={compact_number(x)}" for k, x in v.items())
    return "  ".join(parts)


def format_hyperparameters(values: dict) -> str:
    """A compact, multi-line description of a CNNHyperModel trial's hyperparameters.

    Names it does not know are listed as ``name=value``, so any hypermodel's
    values render.
    """
    values = {k: v for k, v in values.items() if k not in _TUNER_KEYS}
    lines = []
    first = []
    if "num_blocks" in values:
        n = values.pop("num_blocks")
        first.append(f"{n} block{'s' if n != 1 else ''}")
    if "optimizer" in values:
        opt = values.pop("optimizer")
        lr = values.pop("learning_rate", None)
        first.append(opt + ("" if lr is None else f" lr {compact_number(float(lr))}"))
    if "batch_size" in values:
        first.append(f"batch {values.pop('batch_size')}")
    if first:
        lines.append(" · ".join(first))
    blocks: dict[int, dict] = {}
    for key in list(values):
        match = _BLOCK_KEY.match(key)
        if match:
            blocks.setdefault(int(match.group(1)), {})[match.group(2)] = values.pop(key)
    for index in sorted(blocks):
        lines.append(f"b{index}  {_block_text(blocks[index])}")
    if "head_pooling" in values or "head_units" in values:
        head = f"head {values.pop('head_pooling', '')}".rstrip()
        units = values.pop("head_units", None)
        dropout = values.pop("head_dropout", None)
        if units:
            head += f" -> {units}"
            if dropout is not None:
                head += f"  drop {compact_number(dropout)}"
        lines.append(head)
    preset = values.pop("augmentation", None)
    strength = values.pop("augmentation_strength", None)
    if preset not in (None, "none"):
        lines.append(f"aug {preset}" + ("" if strength is None else f" x{compact_number(strength)}"))
    rest = [f"{k}={compact_number(v)}" for k, v in values.items()]
    if rest:
        lines.append(", ".join(rest))
    return "\n".join(lines)


@dataclasses.dataclass
class TuningResults:
    """The trials of a search, best first; render with :meth:`table` or export.

    Attributes:
        rows: one :class:`TrialRow` per trial, best score first (trials with
            no score last).
        objective: the objective's name.
        direction: ``"max"`` or ``"min"``.
    """

    rows: list[TrialRow]
    objective: str
    direction: str

    @property
    def best(self) -> TrialRow | None:
        """The best completed trial."""
        return next((r for r in self.rows if r.score is not None), None)

    @property
    def completed(self) -> list[TrialRow]:
        """Rows of the completed trials."""
        return [r for r in self.rows if r.status == "COMPLETED"]

    def table(self):
        """A ``rich.table.Table`` of the trials."""
        from rich.table import Table

        best = self.best
        table = Table(
            title=f"Tuning results: {len(self.rows)} trials, objective {self.objective} ({self.direction})",
            caption=None if best is None else f"best: trial {_number(best.trial_id)} ({best.score:.4f})",
            show_lines=True,
        )
        table.add_column("#", justify="right")
        table.add_column("trial")
        table.add_column(self.objective, justify="right")
        table.add_column("hyperparameters")
        table.add_column("params", justify="right")
        table.add_column("epochs", justify="right")
        table.add_column("time", justify="right")
        table.add_column("status")
        for rank, row in enumerate(self.rows, start=1):
            epochs = "-" if row.epochs is None else str(row.epochs)
            if row.final_epoch is not None:
                epochs += f" (to {row.final_epoch})"
            table.add_row(
                str(rank),
                _number(row.trial_id),
                "-" if row.score is None else f"{row.score:.4f}",
                format_hyperparameters(row.hyperparameters),
                "-" if row.params is None else f"{row.params:,}",
                epochs,
                "-" if row.seconds is None else f"{row.seconds:.1f}s",
                row.status.lower(),
                style="bold" if best is not None and row is best else None,
            )
        return table

    def __rich__(self):
        return self.table()

    def _record(self, width: int):
        console = recording_console(width)
        console.print(self.table())
        return console

    def export_text(self, width: int = 120) -> str:
        """The table as plain text."""
        return self._record(width).export_text()

    def export_html(self, width: int = 120) -> str:
        """The table as a standalone HTML page."""
        return self._record(width).export_html(inline_styles=True)

    def export_svg(self, width: int = 120, title: str = "keras_cnnlab tuning") -> str:
        """The table as an SVG image."""
        return self._record(width).export_svg(title=title)

    def save(self, path, width: int = 120) -> str:
        """Write the table to ``path`` as text, HTML or SVG (by extension); returns the path."""
        path = os.fspath(path)
        ext = os.path.splitext(path)[1].lower()
        exporters = {".txt": self.export_text, ".html": self.export_html, ".svg": self.export_svg}
        if ext not in exporters:
            raise ValueError(
                f"Invalid value for argument `path`: expected a .txt, .html or .svg file. "
                f"Received path={path!r}."
            )
        with open(path, "w", encoding="utf-8") as f:
            f.write(exporters[ext](width=width))
        return path


def _collect(source):
    oracle = getattr(source, "oracle", source)
    trials = getattr(oracle, "trials", None)
    if trials is None:
        if not hasattr(oracle, "get_best_trials"):
            raise ValueError(
                "Invalid value for argument `tuner`. Expected a KerasTuner tuner or oracle. "
                f"Received tuner={source!r}."
            )
        # A worker's client oracle only serves the completed trials.
        trials = {t.trial_id: t for t in oracle.get_best_trials(10**6)}
    return oracle, list(trials.values())


def results_table(tuner, console=None, *, num_trials: int | None = None, show: bool = True) -> TuningResults:
    """Show the trials of a search as a rich table and return them as :class:`TuningResults`.

    Columns: rank, trial id, score, hyperparameters (grouped per block),
    parameter count, epochs trained, time in ``fit`` and status. Unlike
    ``tuner.results_summary()``, every trial shows in one table, failed ones
    included, and the result exports to text, HTML or SVG
    (``results.save("results.html")``).

    Args:
        tuner: a KerasTuner tuner (or its oracle).
        console: where to print: ``None`` (standard output), a rich Console, a
            path or a file (see :func:`keras_cnnlab.display.console.make_console`).
        num_trials: keep the best ``num_trials`` rows.
        show: print the table (``False`` only builds the object).

    Returns:
        A :class:`TuningResults`.

    Example:

    ```python
    results = results_table(tuner)
    results.best.hyperparameters
    results.save("tuning.html")
    ```
    """
    oracle, trials = _collect(tuner)
    objective = oracle.objective
    direction = getattr(objective, "direction", "min") or "min"
    rows = [_row(t) for t in trials]
    sign = -1.0 if direction == "max" else 1.0
    rows.sort(key=lambda r: (r.score is None, sign * (r.score or 0.0), r.trial_id))
    if num_trials is not None:
        rows = rows[:num_trials]
    results = TuningResults(rows, getattr(objective, "name", str(objective)), direction)
    if show:
        make_console(console).print(results.table())
    return results


def _number(trial_id: str) -> str:
    """A trial as KerasTuner prints it ("Running Trial #1" for trial_id "0")."""
    return f"#{int(trial_id) + 1}" if str(trial_id).isdigit() else str(trial_id)
