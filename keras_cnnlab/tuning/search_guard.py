"""A search whose every trial fails raises, with the first failed trial's error.

:func:`guard_search` wraps a tuner's hooks once; CNNHyperModel calls it from
``build`` and ``fit``, where the tuner first shows.
"""

from __future__ import annotations

import re

import keras_tuner

from keras_cnnlab import _internals

__all__ = ["guard_search"]


def _error_line(message) -> str:
    """The exception line that closes a trial's traceback (``trial.message``), without the module path."""
    lines = (message or "").rstrip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    body = lines[starts[-1] + 1:] if starts else lines
    error = []
    for line in body:
        if not error:
            if line and not line[0].isspace():
                error.append(line.strip())
        elif line.strip() and not line[0].isspace():
            error.append(line.strip())
        else:
            break
    text = " ".join(error) or (lines[-1].strip() if lines else "") or "no error message was recorded"
    text = re.sub(r"^(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_]\w*:)", "", text)  # tensorflow....InvalidArgumentError:
    return text if len(text) <= 400 else text[:397] + "..."


def _trial_number(oracle, trial_id) -> str:
    """The trial's number as KerasTuner prints it ("Running Trial #1" for trial_id "0")."""
    number = _internals.tuner_display(oracle)[0].get(trial_id)
    if number is None and trial_id in oracle.trials:
        number = list(oracle.trials).index(trial_id) + 1
    return f"#{number}" if number is not None else repr(trial_id)


def _failure_message(oracle, consecutive: bool):
    """Why the search must raise: every trial failed, or KerasTuner's limit of failures in a row."""
    ended = [oracle.trials[t] for t in oracle.end_order if t in oracle.trials]
    failed = [t for t in ended if t.status == keras_tuner.engine.trial.TrialStatus.FAILED]
    completed = any(t.status == keras_tuner.engine.trial.TrialStatus.COMPLETED for t in oracle.trials.values())
    if not failed or (completed and not consecutive):
        return None
    if completed:  # the streak that reached max_consecutive_failed_trials
        streak = []
        for trial in reversed(ended):
            if trial.status != keras_tuner.engine.trial.TrialStatus.FAILED:
                break
            streak.insert(0, trial)
        first = streak[0] if streak else failed[0]
        what = (
            f"{len(streak)} trials in a row failed (the tuner's max_consecutive_failed_trials="
            f"{getattr(oracle, 'max_consecutive_failed_trials', '?')}), so the search stopped"
        )
    else:
        first = failed[0]
        stopped = ", so the search stopped" if consecutive else ""
        what = f"All {len(failed)} trial(s) of the search failed{stopped}; there is no best model"
    return (
        f"{what}. The first, trial {_trial_number(oracle, first.trial_id)}, failed with: "
        f"{_error_line(first.message).rstrip('.')}. Fix that and run the search again (each "
        "trial's traceback: tuner.oracle.trials[trial_id].message)."
    )


def guard_search(tuner) -> None:
    """Make ``tuner.search()`` raise, with the first failed trial's error, when its trials all fail.

    KerasTuner 1.4 records a failed trial and goes on: a search whose every trial
    fails returns normally (silently at ``verbose=0``) when it has fewer trials
    than ``max_consecutive_failed_trials`` (3), and raises its RuntimeError with
    the last trial's whole traceback otherwise. Wraps the tuner's
    ``on_trial_end`` and ``on_search_end`` hooks once, on this tuner instance.
    """
    if getattr(tuner.on_search_end, "_keras_cnnlab_guard", False):
        return
    oracle = getattr(tuner, "oracle", None)
    if not isinstance(getattr(oracle, "trials", None), dict) or not hasattr(oracle, "end_order"):
        return  # a worker's client of a distributed search: the chief keeps the trials
    on_trial_end, on_search_end = tuner.on_trial_end, tuner.on_search_end

    def guarded_on_trial_end(trial):
        try:
            on_trial_end(trial)
        except RuntimeError as error:
            message = "consecutive failures" in str(error) and _failure_message(oracle, True)
            if not message:
                raise
            raise RuntimeError(message) from None

    def guarded_on_search_end():
        on_search_end()
        message = _failure_message(oracle, False)
        if message:
            raise RuntimeError(message)

    guarded_on_search_end._keras_cnnlab_guard = True
    tuner.on_trial_end, tuner.on_search_end = guarded_on_trial_end, guarded_on_search_end
