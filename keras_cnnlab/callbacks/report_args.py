"""The training report's argument checks: each bad argument named, with what it accepts."""

from __future__ import annotations

import math
import numbers

__all__ = ["check_arguments", "check_trial"]


def check_arguments(refresh_per_second, monitor, mode, metrics, batch_size, width, progress_interval):
    """Raise a ValueError naming the first bad argument; return ``metrics`` as a list (or ``None``)."""
    if (
        isinstance(refresh_per_second, bool)
        or not isinstance(refresh_per_second, numbers.Real)
        or not 0 < refresh_per_second <= 60
    ):
        raise ValueError(
            "Invalid value for argument `refresh_per_second`. Expected a number in (0, 60]. "
            f"Received refresh_per_second={refresh_per_second!r}."
        )
    if monitor is not None and (not isinstance(monitor, str) or not monitor):
        raise ValueError(
            "Invalid value for argument `monitor`. Expected None or a log key such as "
            f"'val_loss' or 'val_accuracy'. Received monitor={monitor!r}."
        )
    if mode not in ("auto", "min", "max"):
        raise ValueError(
            "Invalid value for argument `mode`. Expected one of ('auto', 'min', 'max'). "
            f"Received mode={mode!r}."
        )
    if metrics is not None:
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        if not all(isinstance(m, str) and m for m in metrics):
            raise ValueError(
                "Invalid value for argument `metrics`. Expected None or a list of metric "
                f"names such as ['accuracy']. Received metrics={metrics!r}."
            )
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1
    ):
        raise ValueError(
            "Invalid value for argument `batch_size`. Expected None or a positive integer, the "
            f"batch_size given to fit. Received batch_size={batch_size!r}."
        )
    if width is not None and (not isinstance(width, numbers.Integral) or width < 40):
        raise ValueError(
            f"Invalid value for argument `width`. Expected None or an integer >= 40. Received width={width!r}."
        )
    if progress_interval is not None and (
        isinstance(progress_interval, bool)
        or not isinstance(progress_interval, numbers.Real)
        or not 0 < progress_interval < math.inf
    ):
        raise ValueError(
            "Invalid value for argument `progress_interval`. Expected None or a positive "
            f"number of seconds, such as 30. Received progress_interval={progress_interval!r}."
        )
    return metrics


def check_trial(trial, tuner) -> None:
    if trial is not None and not (hasattr(trial, "trial_id") and hasattr(trial, "hyperparameters")):
        raise ValueError(
            "Invalid value for argument `trial`. Expected None or a KerasTuner Trial "
            f"(with trial_id and hyperparameters). Received trial={trial!r}."
        )
    if tuner is not None and not hasattr(tuner, "oracle"):
        raise ValueError(
            "Invalid value for argument `tuner`. Expected None or a KerasTuner tuner "
            f"(with an oracle). Received tuner={tuner!r}."
        )


