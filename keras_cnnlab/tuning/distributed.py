"""Helpers for KerasTuner's chief/worker mode (distributed tuning).

KerasTuner runs one *chief* process that holds the oracle and serves trials
over gRPC, and any number of *workers* that train them. Every process runs
the same script; three environment variables give each its role:

* ``KERASTUNER_TUNER_ID``: ``"chief"`` for the chief, a unique id per worker
  (e.g. ``"tuner0"``). A restarted worker with the same id resumes the trial it
  was running.
* ``KERASTUNER_ORACLE_IP`` / ``KERASTUNER_ORACLE_PORT``: where the chief listens.

All processes must share the tuner's ``directory`` (a network file system
across machines) and create their tuner with ``overwrite=False``.
The mode needs ``grpcio`` and ``protobuf``: ``pip install 'keras-cnnlab[distributed]'``.
"""

from __future__ import annotations

import os
import re
import socket

__all__ = ["tuner_environment", "free_port", "tuner_role"]

_ENV_KEYS = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")


def tuner_environment(tuner_id: str, oracle_port: int, oracle_ip: str = "127.0.0.1") -> dict:
    """The environment variables that give a process its role in distributed tuning.

    Args:
        tuner_id: ``"chief"``, or a unique worker id such as ``"tuner0"``.
        oracle_port: the chief's port.
        oracle_ip: the chief's address (reachable by every worker).

    Returns:
        A dict to merge into ``os.environ`` or a subprocess environment.

    Example:

    ```python
    env = {**os.environ, **tuner_environment("tuner0", 8000, "10.0.0.1")}
    subprocess.Popen([sys.executable, "tune.py"], env=env)
    ```
    """
    if not isinstance(tuner_id, str) or not re.match(r"^[A-Za-z0-9_.-]+$", tuner_id):
        raise ValueError(
            "Invalid value for argument `tuner_id`. Expected 'chief' or a worker id made of "
            f"letters, digits, '_', '.', '-' (e.g. 'tuner0'). Received tuner_id={tuner_id!r}."
        )
    if "chief" in tuner_id and tuner_id != "chief":
        raise ValueError(
            "Invalid value for argument `tuner_id`: KerasTuner treats any id containing "
            f"'chief' as the chief. Use 'chief' for the chief only. Received tuner_id={tuner_id!r}."
        )
    if isinstance(oracle_port, bool) or not isinstance(oracle_port, int) or not 0 < oracle_port < 65536:
        raise ValueError(
            "Invalid value for argument `oracle_port`. Expected a port in 1..65535. "
            f"Received oracle_port={oracle_port!r}."
        )
    if not isinstance(oracle_ip, str) or not oracle_ip:
        raise ValueError(
            f"Invalid value for argument `oracle_ip`. Expected a host address. Received oracle_ip={oracle_ip!r}."
        )
    return {
        "KERASTUNER_TUNER_ID": tuner_id,
        "KERASTUNER_ORACLE_IP": oracle_ip,
        "KERASTUNER_ORACLE_PORT": str(oracle_port),
    }


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now (for the chief)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def tuner_role(environ=None) -> str:
    """``"chief"``, ``"worker"`` or ``"standalone"``, from the KerasTuner variables.

    Raises a ValueError naming the missing variables when only some are set.
    """
    env = os.environ if environ is None else environ
    present = [key for key in _ENV_KEYS if key in env]
    if not present:
        return "standalone"
    if len(present) != len(_ENV_KEYS):
        missing = [key for key in _ENV_KEYS if key not in env]
        raise ValueError(
            f"Distributed tuning needs all of {_ENV_KEYS}; {missing} "
            f"{'is' if len(missing) == 1 else 'are'} not set. Use tuner_environment() to build them."
        )
    return "chief" if "chief" in env["KERASTUNER_TUNER_ID"] else "worker"
