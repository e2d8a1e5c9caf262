"""Studies as Ray Jobs on a cluster: what is submitted, and submitting, listing, following, stopping."""

from orchestrator.lazy import lazy_exports

# Names load on first use (PEP 562), as the CLI imports this package only for its job commands.
_MODULE_OF = {
    "JobPlan": "submission",
    "plan_job": "submission",
    "stage_spec": "submission",
    "connect": "client",
    "submit": "client",
    "job_rows": "client",
    "follow_logs": "client",
    "stop": "client",
}
__all__ = sorted(_MODULE_OF)
__getattr__ = lazy_exports(__name__, _MODULE_OF)
