"""Searches across processes: killed and resumed, and KerasTuner's chief/worker mode.

Each test runs a small tuning job (below) in separate Python processes sharing
one directory, on 127.0.0.1 only.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keras_cnnlab.tuning import free_port, tuner_environment

pytestmark = pytest.mark.slow

JOB = r'''
"""A tuning job: standalone, chief or worker, from the KerasTuner environment variables."""
import json, os, signal, sys, time, types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
STRATEGY = None
if os.environ.get("JOB_MIRRORED") == "1":  # each trial over two logical CPU devices
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    STRATEGY = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
import keras_tuner as kt

from keras_cnnlab.data import load_dataset
from keras_cnnlab.tuning import CNNHyperModel, SearchSpace, tuner_role

directory, max_trials, log_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
KILL_AFTER = int(os.environ.get("JOB_KILL_AFTER", "-1"))  # SIGKILL itself mid-trial after n ends
HOLD = os.environ.get("JOB_HOLD") == "1"  # stay inside the first trial until killed
TUNER_ID = os.environ.get("KERASTUNER_TUNER_ID", "tuner0")
ROLE = tuner_role()


def log(event, trial_id):
    with open(log_path, "a") as f:
        f.write(f"{event} {trial_id} {TUNER_ID}\n")


def ended():
    with open(log_path) as f:
        return sum(line.startswith("end ") for line in f)


class Job(CNNHyperModel):
    def fit(self, hp, model, *args, **kwargs):
        if 0 <= KILL_AFTER <= ended():
            os.kill(os.getpid(), signal.SIGKILL)
        while HOLD:
            time.sleep(0.1)
        strategy = model.distribute_strategy
        log("strategy", f"{type(strategy).__name__}/{strategy.num_replicas_in_sync}")
        return super().fit(hp, model, *args, **kwargs)


class Tuner(kt.RandomSearch):
    def on_trial_begin(self, trial):
        log("begin", trial.trial_id)
        super().on_trial_begin(trial)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        log("end", trial.trial_id)


if ROLE == "chief":
    # The chief re-checks for running trials every 20 s before it exits; poll faster.
    from keras_tuner.src.distribute import oracle_chief

    oracle_chief.time = types.SimpleNamespace(sleep=lambda s: time.sleep(min(s, 0.2)))

data = load_dataset("digits", limit=400, seed=0)
space = SearchSpace(
    num_blocks=1, filters=[4, 8], kernel_size=3, downsample=["max", "strided"], downsample_factor=2,
    head_units=0, batch_size=64,
)
# Eager steps: these tests are about processes, and tracing would dominate each trial.
hypermodel = Job(
    data.input_shape, data.num_classes, search_space=space, compile_kwargs=dict(run_eagerly=True)
)
tuner = Tuner(
    hypermodel, objective="val_accuracy", max_trials=max_trials, directory=directory,
    project_name="job", overwrite=False, seed=7, distribution_strategy=STRATEGY,
)
tuner.search(
    data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=1, verbose=0
)
if ROLE == "chief":
    trials = {}
    for trial in tuner.oracle.trials.values():
        trials[trial.trial_id] = dict(
            status=trial.status,
            params=trial.metrics.get_last_value("params"),
            reloaded=tuner.load_model(trial).count_params(),
            rebuilt=hypermodel.build(trial.hyperparameters).count_params(),
        )
    best_trial = tuner.oracle.get_best_trials(1)[0]
    best = tuner.get_best_models(1)[0]
    _, accuracy = best.evaluate(data.x_val, data.y_val, verbose=0)
    summary = dict(trials=trials, best_score=best_trial.score, best_reloaded_accuracy=accuracy)
    with open(os.path.join(directory, "summary.json"), "w") as f:
        json.dump(summary, f)
'''

TIMEOUT = 600


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra)
    return env


class Job:
    def __init__(self, tmp_path: Path, max_trials: int):
        self.script = tmp_path / "job.py"
        self.script.write_text(JOB)
        self.directory = tmp_path / "search"
        self.log = tmp_path / "events.log"
        self.log.touch()
        self.max_trials = max_trials

    def start(self, **env) -> subprocess.Popen:
        args = [sys.executable, str(self.script), str(self.directory), str(self.max_trials), str(self.log)]
        # Output goes to a file: a full pipe would block a long-running process.
        self.starts = getattr(self, "starts", 0) + 1
        output = open(self.script.with_name(f"process{self.starts}.out"), "w+b")  # noqa: SIM115
        process = subprocess.Popen(args, env=_env(**env), stdout=output, stderr=subprocess.STDOUT)
        process.output = output
        return process

    def events(self) -> list[tuple[str, str, str]]:
        return [tuple(line.split()) for line in self.log.read_text().splitlines() if line.strip()]

    def trial_files(self) -> dict[str, bytes]:
        return {p.parent.name: p.read_bytes() for p in (self.directory / "job").glob("trial_*/trial.json")}

    def statuses(self) -> dict[str, str]:
        return {name: json.loads(data)["status"] for name, data in self.trial_files().items()}


def _output(process: subprocess.Popen) -> str:
    process.output.seek(0)
    return process.output.read().decode(errors="replace")


def _wait(process: subprocess.Popen, timeout: float = TIMEOUT) -> tuple[int, str]:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"job did not finish in {timeout} s:\n{_output(process)[-3000:]}")
    return process.returncode, _output(process)


def _wait_until(condition, processes, timeout: float = TIMEOUT, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for p in processes:
            if p.poll() is not None and p.returncode != 0:
                out = _output(p)
                pytest.fail(f"a job exited with {p.returncode} while waiting for {what}:\n{out[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_killed_search_resumes_without_redoing_trials(tmp_path):
    job = Job(tmp_path, max_trials=3)

    code, out = _wait(job.start(JOB_KILL_AFTER="1"))
    assert code == -signal.SIGKILL, out[-3000:]
    first = job.events()
    done = {trial for event, trial, _ in first if event == "end"}
    in_flight = {trial for event, trial, _ in first if event == "begin"} - done
    assert len(done) == 1 and len(in_flight) == 1  # killed in the middle of the second trial
    before = job.trial_files()

    code, out = _wait(job.start())
    assert code == 0, out[-3000:]
    second = job.events()[len(first):]
    begun_again = [trial for event, trial, _ in second if event == "begin"]
    # Completed trials are not redone; the interrupted one is finished, then the rest.
    assert not done & set(begun_again)
    assert begun_again[0] in in_flight and len(begun_again) == 2
    ends = [trial for event, trial, _ in first + second if event == "end"]
    assert sorted(ends) == sorted(done | set(begun_again))  # every trial ended exactly once
    statuses = job.statuses()
    assert len(statuses) == 3 and set(statuses.values()) == {"COMPLETED"}
    after = job.trial_files()
    for name in (f"trial_{t}" for t in done):
        assert after[name] == before[name]  # untouched on disk


def test_chief_and_two_workers_survive_a_killed_worker(tmp_path):
    job = Job(tmp_path, max_trials=3)
    port = free_port()
    chief = job.start(**tuner_environment("chief", port))
    # Worker 1 takes a trial first and stays inside it; worker 0 then starts beside it.
    worker1 = job.start(JOB_HOLD="1", **tuner_environment("tuner1", port))
    processes = [chief, worker1]
    try:
        _wait_until(
            lambda: any(e[0] == "begin" and e[2] == "tuner1" for e in job.events()),
            processes, what="worker 1 inside a trial",
        )
        orphan = next(e[1] for e in job.events() if e[0] == "begin" and e[2] == "tuner1")
        worker0 = job.start(**tuner_environment("tuner0", port))
        processes.append(worker0)
        _wait_until(
            lambda: any(e[0] == "end" and e[2] == "tuner0" for e in job.events()),
            processes, what="worker 0 past its first trial",
        )
        worker1.kill()  # SIGKILL, in the middle of its trial
        assert _wait(worker1)[0] == -signal.SIGKILL
        with open(job.log, "a") as f:
            f.write("killed - tuner1\n")

        # The other worker carries on to the end of the search, losing nothing.
        code, out = _wait(worker0)
        assert code == 0, out[-3000:]
        statuses = job.statuses()
        assert len(statuses) == 3
        assert statuses[f"trial_{orphan}"] == "RUNNING"
        assert sum(s == "COMPLETED" for s in statuses.values()) == 2
        events = job.events()
        assert [e[2] for e in events if e[0] == "end"] == ["tuner0", "tuner0"]
        kill = events.index(("killed", "-", "tuner1"))
        assert any(e[0] == "end" for e in events[kill:])  # worker 0 went on after the kill
        assert chief.poll() is None  # still serving the unfinished trial

        # A worker restarted with the same id finishes the interrupted trial.
        worker1 = job.start(**tuner_environment("tuner1", port))
        processes.append(worker1)
        code, out = _wait(worker1)
        assert code == 0, out[-3000:]
        code, out = _wait(chief)
        assert code == 0, out[-3000:]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()

    ends = [e[1] for e in job.events() if e[0] == "end"]
    assert sorted(ends) == sorted(set(ends)) and len(ends) == 3  # every trial recorded once
    assert [e[2] for e in job.events() if e[0] == "end" and e[1] == orphan] == ["tuner1"]
    statuses = job.statuses()
    assert len(statuses) == 3 and set(statuses.values()) == {"COMPLETED"}

    summary = json.loads((job.directory / "summary.json").read_text())
    assert len(summary["trials"]) == 3
    for trial in summary["trials"].values():
        assert trial["status"] == "COMPLETED"
        assert trial["reloaded"] == trial["rebuilt"] == trial["params"]
    assert summary["best_reloaded_accuracy"] == pytest.approx(summary["best_score"], abs=1e-6)


def test_chief_and_two_workers_each_training_its_trials_under_mirrored_strategy(tmp_path):
    # the two ways to spend more hardware together: trials spread over workers, and every
    # trial split over two devices of its worker (KerasTuner's distribution_strategy=)
    job = Job(tmp_path, max_trials=4)
    port = free_port()
    chief = job.start(**tuner_environment("chief", port))
    workers = [job.start(JOB_MIRRORED="1", **tuner_environment(f"tuner{i}", port)) for i in range(2)]
    try:
        for process in [*workers, chief]:
            code, out = _wait(process)
            assert code == 0, out[-3000:]
    finally:
        for p in [chief, *workers]:
            if p.poll() is None:
                p.kill()
                p.wait()
    events = job.events()
    ends = [e for e in events if e[0] == "end"]
    assert len(ends) == 4 and len({e[1] for e in ends}) == 4  # every trial once
    assert {e[2] for e in ends} <= {"tuner0", "tuner1"}
    # every trial trained under its worker's strategy, over both devices
    assert [e[1] for e in events if e[0] == "strategy"] == ["MirroredStrategy/2"] * 4
    summary = json.loads((job.directory / "summary.json").read_text())
    assert {t["status"] for t in summary["trials"].values()} == {"COMPLETED"}
    for trial in summary["trials"].values():
        assert trial["reloaded"] == trial["rebuilt"] == trial["params"]
    assert summary["best_reloaded_accuracy"] == pytest.approx(summary["best_score"], abs=1e-6)
