"""Real studies: local Ray started by the CLI, Ray Tune + Ray Train (TorchTrainer) + Optuna TPE."""

import csv
import io
import json
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from html.parser import HTMLParser

import pyarrow.dataset as ds
import pytest
import torch
import yaml

from tests.conftest import REPO, SHARED_DATASETS, needs_shared_datasets, orchestrate, tiny_spec
from tests.orchestrator.run.optuna_checks import assert_optuna_matches_trials

pytestmark = pytest.mark.ray
EPOCHS = tiny_spec()["budget"]["epochs"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    spec_path = root / "spec.yaml"
    # the baseline arm also searches the loss (baseline_loss space)
    variants = [{"name": "baseline", "search_space": "baseline_loss"}, "frem"]
    tracking = {"tensorboard": True, "mlflow": f"file:{root / 'mlruns'}"}
    spec_path.write_text(yaml.safe_dump(tiny_spec("e2e", variants=variants, tracking=tracking)))
    result = orchestrate("run", spec_path, "--storage", root / "runs")
    assert result.returncode == 0, result.stdout + result.stderr
    return root / "runs" / "e2e", result


def test_run_prints_progress_and_the_comparison(study):
    _, result = study
    assert "completed" in result.stdout
    assert (
        "| architecture | variant | cells | params | CPU-h | wall min | ms/image | trials | failed |" in result.stdout
    )
    assert "evaluating the best trial on held-out data" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert "Token authentication" not in result.stdout + result.stderr  # Ray's notices go to the study's logs


def test_trials_table_has_one_row_per_budgeted_trial(study):
    root, _ = study
    trials = ds.dataset(root / "results" / "trials").to_table().to_pandas()  # no project code needed
    assert sorted(trials["arm"].value_counts().to_dict().items()) == [
        ("cells__unet__baseline", 2),
        ("cells__unet__frem", 2),
    ]
    assert trials["trial_id"].is_unique
    assert (trials["status"] == "completed").all() and (trials["epochs_completed"] == 2).all()
    assert trials["best_metric"].between(0, 1).all() and (trials["metric"] == "val_miou").all()
    assert {"hp_lr", "hp_frem_b", "hp_frem_x", "seed", "wall_seconds", "trial_seed"} <= set(trials.columns)
    frem = trials[trials["variant"] == "frem"]
    assert frem["hp_frem_b"].between(1, 16).all() and frem["hp_frem_x"].between(1, 1e4).all()
    assert trials.loc[trials["variant"] == "baseline", "hp_frem_b"].isna().all()
    assert trials["hp_lr"].between(1e-5, 1e-2).all()
    baseline = trials[trials["variant"] == "baseline"]
    assert (
        baseline["hp_loss"].isin(["ce", "dice", "focal", "ce+dice", "focal+dice"]).all()
        and frem["hp_loss"].isna().all()
    )


def test_epochs_table_has_every_epoch_once(study):
    root, _ = study
    epochs = ds.dataset(root / "results" / "epochs").to_table().to_pandas()
    assert len(epochs) == 8 and not epochs.duplicated(["trial_id", "epoch"]).any()
    assert {
        "train_loss",
        "val_loss",
        "val_miou",
        "val_miou_fg",
        "val_iou_background",
        "val_iou_cell",
        "val_dice_cell",
        "val_precision_mean",
        "val_recall_mean",
        "val_pixel_accuracy",
    } <= set(epochs.columns)
    assert epochs["val_miou"].between(0, 1).all() and (epochs["train_loss"] > 0).all()


def test_binary_tasks_are_evaluated_by_argmax_by_default(study):
    # 000 Table 1 reports plain softmax predictions: no threshold unless the spec asks for one.
    root, _ = study
    tests = ds.dataset(root / "results" / "tests").to_table().to_pandas()
    assert len(tests) == 2 and tests["threshold"].isna().all()
    assert not any(column.startswith("val_fg_iou_t") and tests[column].notna().any() for column in tests.columns)


def test_the_arms_ran_at_once(study):
    # Every arm in flight together: some trial of one arm ran while a trial of the other did.
    root, _ = study
    trials = ds.dataset(root / "results" / "trials").to_table().to_pandas()
    spans = {arm: list(zip(rows.started_at, rows.finished_at, strict=True)) for arm, rows in trials.groupby("arm")}
    baseline, frem = spans["cells__unet__baseline"], spans["cells__unet__frem"]
    assert any(start < other_end and other_start < end for start, end in baseline for other_start, other_end in frem)


def test_the_final_evaluation_ran_as_a_ray_task(study):
    root, _ = study
    tests = ds.dataset(root / "results" / "tests").to_table().to_pandas()
    assert tests["evaluation_task_id"].notna().all() and tests["evaluation_task_id"].is_unique
    assert tests["evaluation_node"].notna().all() and (tests["device"] == "cpu").all()


def _tensorboard_tags(path) -> set[str]:
    """The scalar tags of a TensorBoard event file (TFRecord framing: length, crc, event, crc)."""
    from tensorboardX.proto import event_pb2

    data, tags, at = path.read_bytes(), set(), 0
    while at < len(data):
        (length,) = struct.unpack("<Q", data[at : at + 8])
        event = event_pb2.Event.FromString(data[at + 12 : at + 12 + length])
        tags.update(value.tag for value in event.summary.value)
        at += 12 + length + 4
    return tags


def test_trackers_got_every_trial(study, monkeypatch):
    root, _ = study
    event_files = sorted((root / "arms").glob("*/*/events.out.tfevents.*"))
    assert len(event_files) == 4  # one per trial
    assert all("ray/tune/val_miou" in _tensorboard_tags(path) for path in event_files)
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri=f"file:{root.parent.parent / 'mlruns'}")
    runs = client.search_runs([client.get_experiment_by_name("e2e").experiment_id])
    assert sorted(run.data.tags["arm"] for run in runs) == ["cells__unet__baseline"] * 2 + ["cells__unet__frem"] * 2
    assert all(0 <= run.data.metrics["val_miou"] <= 1 for run in runs)


def test_each_trial_kept_its_checkpoints(study):
    root, _ = study
    runs = [p for p in (root / "train").iterdir() if p.is_dir()]
    assert len(runs) == 4
    for run in runs:
        assert list(run.glob("checkpoint_*/state.pt")), run
        # The optimizer's state for training on; the last epoch's checkpoint has none: nothing trains on.
        saved = [torch.load(path, weights_only=False) for path in run.glob("checkpoint_*/state.pt")]
        by_epoch = {checkpoint["state"]["epoch"]: checkpoint for checkpoint in saved}
        assert by_epoch[EPOCHS]["optimizer"] is None and by_epoch[EPOCHS]["model"], run
        assert all(checkpoint["optimizer"]["state"] for epoch, checkpoint in by_epoch.items() if epoch < EPOCHS)


def test_no_worker_of_the_study_started_through_a_runtime_env(study):
    # On the study's own local Ray every process inherits the study's environment: the raylet started
    # each worker (trial actors, Train workers, evaluations) itself, none through a runtime env and
    # Ray's setup_worker.py (trainables/inherited_env.py).
    root, _ = study
    raylet = (root / "logs" / "ray-session" / "raylet.out").read_text()
    assert raylet.count("Started worker process") >= 4 + 2 + 2, raylet[-3000:]
    assert "Create runtime env" not in raylet


def test_status(study):
    root, _ = study
    result = orchestrate("status", root, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "| cells__unet__frem | done | 2/2 | 0 | 0 |" in result.stdout


@pytest.mark.parametrize("fmt", ["markdown", "csv", "latex", "html"])
def test_compare_formats(study, tmp_path, fmt):
    root, _ = study
    out = tmp_path / f"table.{fmt}"
    result = orchestrate("compare", root, "--format", fmt, "--output", out, timeout=120)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0][:3] == ["architecture", "variant", "cells"] and len(rows) == 3
        assert all(0 <= float(row[2]) <= 1 for row in rows[1:])
    elif fmt == "html":
        cells = []

        class Cells(HTMLParser):
            def handle_data(self, data):
                cells.append(data)

        Cells().feed(text)
        assert "frem" in cells and "baseline" in cells
    elif fmt == "latex":
        assert r"\toprule" in text and r"\bottomrule" in text and text.count(r"\\") == 3
    else:
        assert "| unet | frem |" in text


def test_a_trial_whose_loss_turns_nan_is_recorded_failed_and_the_study_goes_on(tmp_path, write_spec):
    spec = tiny_spec(
        "nan",
        variants=[{"name": "baseline", "search_space": "tests.search_spaces.examples.exploding"}],
        budget={"trials_per_arm": 2, "epochs": 1, "max_concurrent_trials": 2},
    )
    result = orchestrate("run", write_spec(spec), "--storage", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    trials = ds.dataset(tmp_path / "nan" / "results" / "trials").to_table().to_pandas()
    assert len(trials) == 2 and (trials["status"] == "failed").all()
    assert trials["error"].str.contains("non-finite|NonFiniteLossError", regex=True).all(), trials["error"].tolist()
    row = next(line for line in result.stdout.splitlines() if line.startswith("| unet | baseline |"))
    assert row.startswith("| unet | baseline | – |") and row.endswith("| 2 | 2 |")  # no value; 2 trials, 2 failed


def test_running_a_study_that_exists_points_to_resume(study, tmp_path):
    root, _ = study
    spec_path = tmp_path / "spec.yaml"
    # the baseline arm also searches the loss (baseline_loss space)
    variants = [{"name": "baseline", "search_space": "baseline_loss"}, "frem"]
    spec_path.write_text(yaml.safe_dump(tiny_spec("e2e", variants=variants)))
    result = orchestrate("run", spec_path, "--storage", root.parent, timeout=120)
    assert result.returncode == 2 and "orchestrate resume" in result.stderr


@pytest.fixture(scope="module")
def asha_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("asha")
    spec = tiny_spec(
        "asha",
        variants=["baseline"],
        scheduler="asha",
        asha={"grace_period": 1, "reduction_factor": 2},
        budget={"trials_per_arm": 4, "epochs": 3, "max_concurrent_trials": 2},
    )
    (root / "spec.yaml").write_text(yaml.safe_dump(spec))
    result = orchestrate("run", root / "spec.yaml", "--storage", root)
    assert result.returncode == 0, result.stdout + result.stderr
    return root / "asha"


def test_asha_stops_weak_trials_early_and_records_them_as_pruned(asha_study):
    trials = ds.dataset(asha_study / "results" / "trials").to_table().to_pandas()
    epochs = ds.dataset(asha_study / "results" / "epochs").to_table().to_pandas()
    assert len(trials) == 4 and set(trials["status"]) <= {"completed", "pruned"}
    assert (trials.loc[trials["status"] == "pruned", "epochs_completed"] < 3).all()
    assert (trials.loc[trials["status"] == "completed", "epochs_completed"] == 3).all()
    assert epochs.groupby("trial_id").size().to_dict() == dict(
        zip(trials["trial_id"], trials["epochs_completed"], strict=True)
    )


def test_optuna_load_study_opens_each_arm_with_the_trials_of_the_parquet_table(asha_study):
    assert_optuna_matches_trials(asha_study)


def test_the_dashboard_serves_the_studys_optuna_storage(asha_study):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "dashboard", str(asha_study), "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        summaries = _get_json(f"http://127.0.0.1:{port}/api/studies", server)
        assert [s["study_name"] for s in summaries["study_summaries"]] == ["cells__unet__baseline"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def _get_json(url: str, server: subprocess.Popen, timeout_s: float = 60) -> dict:
    deadline = time.time() + timeout_s
    while True:
        assert server.poll() is None, server.stderr.read().decode()
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.load(response)
        except OSError:
            assert time.time() < deadline, f"{url} did not answer in {timeout_s} s"
            time.sleep(0.3)


def test_dashboard_without_optuna_storage_says_so(tmp_path, write_spec):
    study = tmp_path / "empty"
    study.mkdir()
    (study / "spec.yaml").write_text(yaml.safe_dump(tiny_spec("empty")))
    result = orchestrate("dashboard", study)
    assert result.returncode == 2 and "has no Optuna storage yet" in result.stderr and "Traceback" not in result.stderr


@needs_shared_datasets
def test_a_study_on_imported_isbi_tiles_with_augmentation(tmp_path, write_spec):
    source = SHARED_DATASETS / "isbi2012-em"
    imported = orchestrate("datasets", "import", "isbi2012", source, tmp_path / "isbi", timeout=300)
    assert imported.returncode == 0, imported.stderr
    spec = tiny_spec(
        "isbi",
        datasets=[
            {
                "name": "isbi",
                "path": str(tmp_path / "isbi"),
                "resize": [128, 128],
                "tile": 64,
                "split": {"val": 4, "test": 6},
            }
        ],
        variants=[{"name": "baseline", "search_space": "baseline_augmentation"}],
        budget={"trials_per_arm": 1, "epochs": 1},
        training={"batch_size": 8},
    )
    result = orchestrate("run", write_spec(spec), "--storage", tmp_path / "runs")
    assert result.returncode == 0, result.stdout + result.stderr
    split = json.loads((tmp_path / "runs" / "isbi" / "splits" / "isbi.json").read_text())
    assert (len(split["train"]), len(split["val"]), len(split["test"])) == (20, 4, 6)
    epochs = ds.dataset(tmp_path / "runs" / "isbi" / "results" / "epochs").to_table().to_pandas()
    assert len(epochs) == 1 and {"val_iou_membrane", "val_iou_cell"} <= set(epochs.columns)
    assert 0 < epochs["val_miou"].iloc[0] <= 1
    trials = ds.dataset(tmp_path / "runs" / "isbi" / "results" / "trials").to_table().to_pandas()
    assert trials["hp_augmentation"].iloc[0] in {"none", "flips", "two_of_list", "geometric"}  # searched
