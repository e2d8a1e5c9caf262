"""The final evaluation of an arm: its best trial's best checkpoint on held-out data.

Runs in the driver once every trial of the arm is recorded, before the arm is
marked done, so an interrupted evaluation is simply redone on resume.
"""

import datetime as dt
import math
from typing import Any

import pandas as pd
import torch

import search_spaces
from trainables.data import class_names_of
from trainables.evaluate import best_checkpoint, evaluate_checkpoint

from .results import read_table
from .spec import Arm
from .study import StudyDir
from .tuning import arm_payload


def best_trial(study: StudyDir, arm: Arm) -> pd.Series | None:
    trials = read_table(study.root, "trials", arm.id)
    if trials.empty:
        return None
    scored = trials[(trials["status"] != "failed") & trials["best_metric"].notna()]
    if scored.empty:
        return None
    order = scored.sort_values(["best_metric", "trial_id"], ascending=[study.spec.mode == "min", True])
    return order.iloc[0]


def sampled_hyperparameters(row: pd.Series, space_name: str) -> dict[str, Any]:
    """The trial's configuration from its ``hp_*`` columns, with the space's declared types."""
    casts = {"int": int, "float": float, "str": str, "bool": bool}
    hyper = {}
    for name, kind in search_spaces.load_space(space_name).PARAMETERS.items():
        value = row.get(f"hp_{name}")
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            hyper[name] = casts[kind](value)
    return hyper


def evaluate_arm(study: StudyDir, arm: Arm) -> dict[str, Any] | None:
    """Evaluate and record; returns the summary row, or None when no trial has a checkpoint to evaluate."""
    spec = study.spec
    row = best_trial(study, arm)
    if row is None:
        return None
    payload = arm_payload(study, arm)
    checkpoint = best_checkpoint(study.train_dir / f"{arm.id}__{row['trial_id']}", spec.metric, spec.mode)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    summary, images = evaluate_checkpoint(
        checkpoint,
        payload,
        sampled_hyperparameters(row, arm.variant.space),
        class_names_of(payload["dataset"]),
        threshold_search=spec.evaluation.threshold_sweep,
        presence_min_pixels=spec.evaluation.presence_min_pixels,
        device=device,
    )
    keys = {"study": spec.name, "arm": arm.id, "dataset": arm.dataset.name, "architecture": arm.architecture.key,
            "variant": arm.variant.name, "fold": arm.fold, "trial_id": row["trial_id"]}
    summary.update(keys, evaluated_at=dt.datetime.now(dt.timezone.utc))
    study.results.write_evaluation(arm.id, row["trial_id"], summary, [{**keys, **image} for image in images])
    return summary
