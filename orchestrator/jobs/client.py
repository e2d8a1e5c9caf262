"""Talking to a cluster's Ray Jobs API (its dashboard, ``http://HOST:8265``) through Ray's own client."""

import asyncio
import shutil
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from orchestrator.errors import UserError, first_line
from orchestrator.jobs.submission import JOB_ENV, STOP_ENV, SUBMISSION_PREFIX, JobPlan, stage_spec
from orchestrator.run.ray_session import object_store_env, send_token_if_there_is_one
from orchestrator.study.spec import StudySpec

ACTIVE = ("PENDING", "RUNNING")


@dataclass(frozen=True)
class JobRow:
    submission_id: str
    status: str
    started: str
    minutes: str


ANSWER_TIMEOUT_S = 10  # a dashboard answers its version in milliseconds


def check_answering(address: str) -> None:
    """Ray's client sets no timeout: a host that takes the connection but never answers (a wrong port, a
    stalled proxy) would hang every job command. Any answer, even an error, is left to Ray's client."""
    url = address.rstrip("/") if "://" in address else f"http://{address.rstrip('/')}"  # as Ray reads it
    try:
        urllib.request.urlopen(f"{url}/api/version", timeout=ANSWER_TIMEOUT_S).close()
    except (ValueError, OSError) as error:  # OSError: URLError and TimeoutError among them
        # A connect that times out comes wrapped in URLError; a read that times out, bare.
        if isinstance(error, TimeoutError) or isinstance(getattr(error, "reason", None), TimeoutError):
            raise UserError(
                f"{address} took no answer within {ANSWER_TIMEOUT_S} s; give --address http://HEAD:8265 "
                "(the cluster's dashboard, not its GCS port 6379) and check the head is up"
            ) from None


def connect(address: str):
    check_answering(address)
    send_token_if_there_is_one()
    from ray.exceptions import AuthenticationError
    from ray.job_submission import JobSubmissionClient

    try:
        return JobSubmissionClient(address)
    except AuthenticationError:
        raise UserError(
            f"the cluster at {address} wants its authentication token; set RAY_AUTH_TOKEN to the output of "
            "`ray get-auth-token` on its head node"
        ) from None
    except (ConnectionError, RuntimeError, ValueError) as error:
        reason = first_line(error)
        raise UserError(
            f"no Ray Jobs API answers at {address} ({reason}); give --address http://HEAD:8265 "
            "(the cluster's dashboard) or start one with `ray up cluster.yaml`"
        ) from None


@contextmanager
def jobs_api(address: str) -> Iterator:
    """A client of the cluster's Jobs API; a connection the head drops mid-call is one line, not a traceback."""
    client = connect(address)
    import aiohttp
    import requests

    try:
        yield client
    except (requests.RequestException, aiohttp.ClientError) as error:
        raise UserError(
            f"the Ray Jobs API at {address} stopped answering ({first_line(error)}); check the head is up "
            f"(`ray status` there), then `orchestrate jobs --address {address}` shows what it has"
        ) from None


def submit(client, plan: JobPlan, spec: StudySpec) -> str:
    """Submit the study; refuses while an earlier submission of it is still pending or running."""
    ours = [job for job in client.list_jobs() if (job.submission_id or "").startswith(SUBMISSION_PREFIX)]
    for job in ours:
        if job.submission_id.startswith(f"{SUBMISSION_PREFIX}{plan.study_name}-") and str(job.status) in ACTIVE:
            raise UserError(
                f"study {plan.study_name!r} is already {str(job.status).lower()} as job {job.submission_id}; "
                f"follow it with `orchestrate logs {job.submission_id} --follow` or stop it first"
            )
    submission_id = plan.submission_id([job.submission_id for job in ours])
    staging = stage_spec(spec)
    job = {
        "entrypoint": plan.entrypoint(),
        "submission_id": submission_id,
        "runtime_env": {"working_dir": str(staging), "env_vars": {**JOB_ENV, **object_store_env()}},
        "metadata": {"study": plan.study_name, "storage": plan.storage},
        "entrypoint_resources": plan.entrypoint_resources(),
    }
    try:
        return _submit_when_the_agent_is_up(client, job)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _submit_when_the_agent_is_up(client, job: dict, timeout_s: float = 120) -> str:
    """A head that has just started answers before its job agent is up ("No available agent")."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return client.submit_job(**job)
        except RuntimeError as error:
            if "No available agent" not in str(error) or time.monotonic() > deadline:
                raise UserError(f"the cluster refused the job: {first_line(error)}") from None
            time.sleep(2)


def job_rows(client) -> list[JobRow]:
    rows = []
    for job in sorted(client.list_jobs(), key=lambda job: job.start_time or 0):
        if not (job.submission_id or "").startswith(SUBMISSION_PREFIX):
            continue
        end = job.end_time or time.time() * 1000
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime((job.start_time or 0) / 1000))
        minutes = f"{(end - (job.start_time or end)) / 60000:.1f}"
        rows.append(JobRow(job.submission_id, str(job.status), started, minutes))
    return rows


def job_status(client, submission_id: str) -> str:
    try:
        return str(client.get_job_status(submission_id))
    except RuntimeError:
        raise UserError(f"no job {submission_id!r} on this cluster; `orchestrate jobs` lists them") from None


def follow_logs(client, submission_id: str, write: Callable[[str], None]) -> str:
    """Print the job's output as it comes until the job ends; returns its final status."""
    job_status(client, submission_id)

    async def tail() -> None:
        async for lines in client.tail_job_logs(submission_id):
            write(lines)

    asyncio.run(tail())
    return wait_until_done(client, submission_id, timeout_s=30)


def wait_until_done(client, submission_id: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    status = job_status(client, submission_id)
    while status in ACTIVE and time.monotonic() < deadline:
        time.sleep(0.5)
        status = job_status(client, submission_id)
    return status


def stop(client, submission_id: str) -> str:
    """Ask the job to stop as Ctrl-C would, and wait for it to end; returns its final status."""
    status = job_status(client, submission_id)
    if status not in ACTIVE:
        return status
    client.stop_job(submission_id)
    return wait_until_done(client, submission_id, timeout_s=float(STOP_ENV["RAY_JOB_STOP_WAIT_TIME_S"]) + 30)
