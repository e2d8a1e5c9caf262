"""The final evaluation's Ray task, importable without torch: the driver that submits it stays light,
and the worker that runs it imports the model code."""

import json
from collections.abc import Sequence
from typing import Any

from . import storage
from .config import TrialConfig
from .direction import Direction


def evaluate_checkpoint(checkpoint: str, configs: Sequence[TrialConfig], hyper: dict[str, Any]):
    """``configs``: the checkpoint's rows (the arm's own last, its threshold rows before it), one task for all."""
    from .checkpoint_evaluation import evaluate_on_this_worker

    with storage.local_copy(checkpoint) as directory:  # downloaded here when it is in an object store
        return evaluate_on_this_worker(directory, configs, hyper)


def best_checkpoint(run_dir: str, metric: str, direction: Direction, which: str = "best") -> str:
    """The checkpoint folder (or object-store prefix) Ray Train kept with the best ``metric`` (from its
    run snapshot), or with ``which="last"`` its latest one (the model after its last epoch, as 004 §3.6
    evaluates)."""
    snapshot = json.loads(storage.read_text(storage.join(run_dir, "checkpoint_manager_snapshot.json")))
    if which == "last" and snapshot.get("latest_checkpoint_result"):
        return storage.join(run_dir, snapshot["latest_checkpoint_result"]["checkpoint_dir_name"])
    best = direction.best_of(snapshot["checkpoint_results"], key=lambda result: result["metrics"].get(metric))
    if best is None:
        raise FileNotFoundError(f"no checkpoint with a value of {metric} in {run_dir}")
    return storage.join(run_dir, best["checkpoint_dir_name"])
