"""Studies as Ray Jobs, against a real Ray head with its dashboard (the Jobs API) started by the test."""

import time

import pyarrow.dataset as ds
import pytest
import yaml

from tests.cluster.conftest import job_id
from tests.conftest import orchestrate, tiny_spec
from tests.orchestrator.run.optuna_checks import assert_optuna_matches_trials

pytestmark = pytest.mark.ray


def _wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(2)


ON_THE_HEAD = ("--driver-resource", "study_driver")


def test_a_study_submitted_stopped_and_resumed_as_jobs_runs_its_budget_once(ray_head, tmp_path):
    head = ray_head.jobs_api
    spec = tmp_path / "jobs.yaml"
    budget = {"trials_per_arm": 2, "epochs": 2, "max_concurrent_trials": 1}
    spec.write_text(yaml.safe_dump(tiny_spec("jobs", variants=["baseline"], budget=budget)))
    storage = tmp_path / "runs"
    first = job_id(orchestrate("submit", spec, "--storage", storage, "--address", head, *ON_THE_HEAD))
    assert first == "orchestrate-jobs-1"  # from the study's name: the n-th submission of it
    again = orchestrate("submit", spec, "--storage", storage, "--address", head)
    assert again.returncode == 2 and "already" in again.stderr and first in again.stderr

    trials = storage / "jobs" / "results" / "trials"
    _wait_for(lambda: trials.is_dir() and any(trials.rglob("*.parquet")), 300, "no trial finished")
    stopped = orchestrate("stop", first, "--address", head, timeout=300)
    assert stopped.returncode == 0 and f"job {first}: STOPPED" in stopped.stdout, stopped.stdout + stopped.stderr
    stopped_logs = orchestrate("logs", first, "--address", head).stdout  # the study's own output: Ctrl-C
    assert "interrupted; nothing finished is lost" in stopped_logs and "Traceback" not in stopped_logs

    second = job_id(orchestrate("submit", spec, "--storage", storage, "--address", head, "--resume", *ON_THE_HEAD))
    assert second == "orchestrate-jobs-2"
    followed = orchestrate("logs", second, "--address", head, "--follow", timeout=600)
    assert followed.returncode == 0 and f"job {second}: SUCCEEDED" in followed.stdout, followed.stdout[-3000:]
    assert "| architecture | variant |" in followed.stdout  # the comparison, as `run` prints it

    table = ds.dataset(trials).to_table().to_pandas()
    assert len(table) == 2 and table["trial_id"].is_unique and (table["status"] == "completed").all()
    assert_optuna_matches_trials(storage / "jobs")  # the stopped trial is not left RUNNING
    listed = orchestrate("jobs", "--address", head)
    assert listed.returncode == 0
    assert f"| {first} | STOPPED |" in listed.stdout and f"| {second} | SUCCEEDED |" in listed.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["jobs", "--address", "http://127.0.0.1:9"], "no Ray Jobs API answers at http://127.0.0.1:9"),
        (["logs", "orchestrate-nope-1"], "no job 'orchestrate-nope-1'"),
        (["submit", "studies/demo.yaml", "--storage", "runs"], "storage 'runs' is relative"),
    ],
)
def test_job_commands_refuse_bad_input_in_one_line(ray_head, args, message):
    head = ray_head.jobs_api
    if "--address" not in args:
        args = [*args, "--address", head]
    result = orchestrate(*args)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
