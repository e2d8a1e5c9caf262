"""Per-arm settings in a real study: fixed hyperparameters, per-arm budgets, threshold rows and the
output head (the rows of 001 §4.3, 002 §3 and 004 §3.5 that one equal-budget search cannot express)."""

import pyarrow.dataset as ds
import pytest
import yaml

from tests.conftest import orchestrate, tiny_spec

pytestmark = pytest.mark.ray

VARIANTS = [
    # 001 §4.3: the dropout ablation holds its rate fixed (B/512) instead of searching it
    {"name": "dropout", "fixed": {"dropout_p": 0.25}, "trials": 1},
    # 002 §3: SW is trained once and reported as SW, SW90 and SW95 (fixed thresholds on its checkpoint)
    {
        "name": "baseline",
        "label": "sw",
        "training": {"stochastic_width": True},
        "evaluation": {"threshold_rows": {"sw90": 0.9, "sw95": 0.95}},
    },
    # 004 §3.5.1-3.5.2: a 1-channel sigmoid output trained with the binary focal loss
    {"name": "baseline", "label": "sigmoid", "trials": 1, "training": {"output": "sigmoid", "loss": "binary_focal"}},
]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("arms")
    spec_path = root / "spec.yaml"
    training = {
        "batch_size": 4,
        # 002 §2's schedule and 003 §5.2's early stopping, shrunk: a rising val_loss never comes, so
        # "max" stops a trial at its first epoch without one (epochs is then the maximum)
        "lr_schedule": {"kind": "plateau", "factor": 0.5, "patience": 1},
        "early_stopping": {"metric": "val_loss", "mode": "max", "patience": 1},
    }
    budget = {"trials_per_arm": 2, "epochs": 4, "max_concurrent_trials": 2}
    spec_path.write_text(yaml.safe_dump(tiny_spec("arms", variants=VARIANTS, training=training, budget=budget)))
    result = orchestrate("run", spec_path, "--storage", root / "runs")
    assert result.returncode == 0, result.stdout + result.stderr
    return root / "runs" / "arms", result


def _table(root, name):
    return ds.dataset(root / "results" / name).to_table().to_pandas()


def test_fixed_hyperparameters_and_per_arm_budgets(study):
    root, _ = study
    trials = _table(root, "trials")
    assert trials.groupby("variant").size().to_dict() == {"dropout": 1, "sigmoid": 1, "sw": 2}
    assert (trials.loc[trials["variant"] == "dropout", "hp_dropout_p"] == 0.25).all()
    assert (trials["status"] == "completed").all()
    status = orchestrate("status", root)
    assert "1/1" in status.stdout and "2/2" in status.stdout


def test_threshold_rows_evaluate_the_same_checkpoint_at_fixed_thresholds(study):
    root, _ = study
    tests = _table(root, "tests").set_index("variant")
    assert sorted(tests.index) == ["dropout", "sigmoid", "sw", "sw90", "sw95"]
    assert tests.loc["sw90", "threshold"] == 0.9 and tests.loc["sw95", "threshold"] == 0.95
    assert tests.loc[["sw", "dropout", "sigmoid"], "threshold"].isna().all()  # argmax unless asked
    assert tests["test_miou"].between(0, 1).all()
    assert tests.loc["sw", "trial_id"] == tests.loc["sw90", "trial_id"] == tests.loc["sw95", "trial_id"]
    # one Ray task evaluated the checkpoint's three rows; every other arm had a task of its own
    assert (
        tests.loc["sw", "evaluation_task_id"]
        == tests.loc["sw90", "evaluation_task_id"]
        == tests.loc["sw95", "evaluation_task_id"]
    )
    assert tests["evaluation_task_id"].nunique() == 3
    assert tests.loc["sw90", "arm"] == "cells__unet__sw90"
    images = _table(root, "images")
    assert images.groupby("variant").size().nunique() == 1  # every row has its per-image metrics


def test_compare_lists_threshold_rows_and_says_budgets_differ(study):
    root, result = study
    for row in ("sw", "sw90", "sw95", "dropout"):
        assert f"| unet | {row} |" in result.stdout
    assert "Trial budgets differ between arms in study arms (dropout 1, sw 2, sigmoid 1)" in result.stdout
    assert "sw95: sw's checkpoint at threshold 0.95" in result.stdout
    # a threshold row has no trials of its own: no cost, no trial count
    row = next(line for line in result.stdout.splitlines() if line.startswith("| unet | sw90 |"))
    assert row.endswith("| – | – |")


def test_early_stopping_ends_a_trial_as_complete_and_the_schedule_lowers_the_rate(study):
    root, _ = study
    trials, epochs = _table(root, "trials"), _table(root, "epochs").sort_values(["trial_id", "epoch"])
    assert (trials["status"] == "completed").all()  # stopped by its rule, not pruned
    for trial_id, rows in epochs.groupby("trial_id"):
        losses = rows["val_loss"].tolist()
        stopped = rows["stopped_early"].tolist()
        assert stopped[:-1] == [False] * (len(rows) - 1), trial_id
        # the rule: stop at the first epoch whose val_loss is not above the best before it (mode max)
        first_stale = next((i for i in range(1, len(losses)) if losses[i] <= max(losses[:i])), None)
        assert len(rows) == (first_stale + 1 if first_stale is not None else 4) and stopped[-1] == (
            first_stale is not None
        )
        rates = rows["lr"].tolist()
        assert all(later in (earlier, earlier / 2) for earlier, later in zip(rates, rates[1:], strict=False))
    assert (trials["epochs_completed"] < 4).any()
