"""The final evaluation of one checkpoint: its threshold rows decided from one prediction of the images."""

import json
import pickle
import subprocess
import sys

import pytest
import torch

from orchestrator.study.folder import StudyDir
from orchestrator.study.spec import parse_spec
from orchestrator.study.trial_config import trial_config
from tests.conftest import REPO, tiny_spec
from trainables.checkpoint_evaluation import evaluate_checkpoint
from trainables.checkpoint_files import CHECKPOINT_FILE
from trainables.data import class_names_of
from trainables.models import build_model

# 002 §3: SW's checkpoint also reported at fixed thresholds (there 0.9 to 0.96; here where this
# untrained model's probabilities lie, so that each row decides differently)
ROWS = {"sw30": 0.3, "sw70": 0.7}
TIMING = {"inference_ms"}


@pytest.fixture(scope="module")
def rows_and_checkpoint(tmp_path_factory):
    """The arm's row configurations (its threshold rows, then its own) and a checkpoint of its model."""
    root = tmp_path_factory.mktemp("evaluation")
    variant = {"name": "baseline", "label": "sw", "evaluation": {"threshold_rows": ROWS, "threshold_sweep": True}}
    spec = parse_spec(tiny_spec("evaluation", variants=[variant]), "test")
    arm = spec.arms()[0]
    config = trial_config(StudyDir.create(spec, root / "runs"), arm)
    configs = [*(config.threshold_row(name, arm.row_id(name), t) for name, t in ROWS.items()), config]
    torch.manual_seed(0)
    model = build_model(
        config.architecture, config.variant, in_channels=1, num_classes=2, params=config.architecture_params
    )
    output_layer = [module for module in model.modules() if isinstance(module, torch.nn.Conv2d)][-1]
    with torch.no_grad():
        output_layer.weight.mul_(50)  # logits far from 0: probabilities spread over (0, 1)
    assert len(class_names_of(config.data)) == 2
    (root / "checkpoint").mkdir()
    torch.save({"model": model.state_dict(), "state": {"epoch": 3}}, root / "checkpoint" / CHECKPOINT_FILE)
    return configs, root / "checkpoint"


def _same(evaluation: tuple[dict, list[dict]], alone: tuple[dict, list[dict]]) -> bool:
    """Equal rows, NaNs included (as JSON), but for the forward passes' timing."""

    def as_json(summary: dict, images: list[dict]) -> str:
        untimed = {key: value for key, value in summary.items() if key not in TIMING}
        return json.dumps([untimed, images], sort_keys=True, default=str)

    return as_json(*evaluation) == as_json(*alone)


def test_the_rows_of_one_checkpoint_match_each_row_evaluated_alone(rows_and_checkpoint):
    configs, checkpoint = rows_and_checkpoint
    together = evaluate_checkpoint(checkpoint, configs, {})
    alone = [evaluate_checkpoint(checkpoint, [config], {})[0] for config in configs]
    assert len(together) == len(configs) == 3
    assert all(_same(evaluation, one) for evaluation, one in zip(together, alone, strict=True))
    thresholds = [summary["threshold"] for summary, _ in together]
    assert thresholds[:2] == [0.3, 0.7] and 0 < thresholds[2] < 1  # the arm's own: swept on validation
    assert {summary["checkpoint_epoch"] for summary, _ in together} == {3}
    low, high = (summary["test_iou_cell"] for summary, _ in together[:2])
    assert low != high, (low, high)  # the rows decided at their own thresholds


# What the final evaluation's Ray task runs, in a fresh process as on its worker: the arguments
# unpickled, the rows evaluated, then which of the heavy libraries it did not need were loaded.
EVALUATION_TASK = """
import pickle, sys
from trainables.evaluation_task import evaluate_checkpoint
checkpoint, configs = pickle.load(open(sys.argv[1], "rb"))
assert len(evaluate_checkpoint(checkpoint, configs, {})) == len(configs)
print(sorted(name for name in ("pyarrow", "pandas", "segmentation_models_pytorch") if name in sys.modules))
"""


def test_the_evaluation_task_on_a_local_checkpoint_loads_no_pyarrow_pandas_or_smp(rows_and_checkpoint, tmp_path):
    configs, checkpoint = rows_and_checkpoint
    arguments = tmp_path / "arguments.pickle"
    arguments.write_bytes(pickle.dumps((str(checkpoint), configs)))
    run = subprocess.run(
        [sys.executable, "-c", EVALUATION_TASK, arguments], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[-2] == "[]"
