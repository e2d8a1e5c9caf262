"""A study as a Ray Job: what is submitted (entrypoint, runtime env, a submission id from the study).

The job's working_dir is a small staging folder holding the spec (data paths made absolute, as
``orchestrate run`` records them) and its published-numbers file; the project's code comes from the
cluster's own install (cluster.yaml installs it on every node, as on a laptop), so the upload stays a
few kilobytes. The entrypoint is ``orchestrate run`` (or ``resume``) joined to the cluster.
"""

import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import UserError
from orchestrator.study.spec import StudySpec, dump_spec
from trainables.storage import is_uri

SUBMISSION_PREFIX = "orchestrate-"
STAGED_SPEC = "spec.yaml"
# Ray's `job stop` sends SIGTERM and kills 3 s later; Ctrl-C (SIGINT) is how a study stops cleanly
# (Tune saves its state, each arm's driver exits, the study stays resumable), given time to do it.
STOP_ENV = {"RAY_JOB_STOP_SIGNAL": "SIGINT", "RAY_JOB_STOP_WAIT_TIME_S": "120"}
# The job carries the object-store settings (ray_session.OBJECT_STORE_ENV) and the study's driver passes
# them on to its Ray again; Ray refuses a driver's env var that repeats the job's unless told to combine.
JOB_ENV = {**STOP_ENV, "RAY_OVERRIDE_JOB_RUNTIME_ENV": "1"}


@dataclass(frozen=True)
class JobPlan:
    study_name: str
    storage: str
    resume: bool
    budget: str
    driver_resource: str | None = None

    def entrypoint_resources(self) -> dict[str, float] | None:
        """A sliver of the custom resource: every study's driver fits on the node that has it."""
        return {self.driver_resource: 0.01} if self.driver_resource else None

    def entrypoint(self) -> str:
        storage = shlex.quote(self.storage)
        if self.resume:
            study = shlex.quote(f"{self.storage.rstrip('/')}/{self.study_name}")
            return f"python -m orchestrator resume {study} --address auto"
        return f"python -m orchestrator run {STAGED_SPEC} --storage {storage} --budget {self.budget} --address auto"

    def submission_id(self, earlier: list[str]) -> str:
        """``orchestrate-<study>-<n>``: n counts this study's earlier submissions (Ray never reuses an id)."""
        prefix = f"{SUBMISSION_PREFIX}{self.study_name}-"
        numbers = [job.removeprefix(prefix) for job in earlier if job.startswith(prefix)]
        attempts = [int(number) for number in numbers if number.isdigit()]
        return f"{prefix}{max(attempts, default=0) + 1}"


def plan_job(spec: StudySpec, storage: str, resume: bool, budget: str, driver_resource: str | None) -> JobPlan:
    if not is_uri(storage) and not Path(storage).is_absolute():  # a URI is the same on every node
        raise UserError(
            f"storage {storage!r} is relative: a job runs in a temporary folder on the cluster; give --storage "
            "an absolute path on the driver's node (or a shared filesystem)"
        )
    return JobPlan(spec.name, storage, resume, budget, driver_resource)


def stage_spec(spec: StudySpec) -> Path:
    """A temporary folder holding the spec to upload as the job's working_dir (the caller removes it)."""
    staging = Path(tempfile.mkdtemp(prefix="orchestrate-job-"))
    if spec.compare.reference:
        reference = Path(spec.compare.reference)
        shutil.copyfile(reference, staging / reference.name)
        spec = spec.model_copy(update={"compare": spec.compare.model_copy(update={"reference": reference.name})})
    (staging / STAGED_SPEC).write_text(dump_spec(spec))
    return staging
