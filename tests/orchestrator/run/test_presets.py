"""Each reference-study preset, end to end at smoke budget on the real data in ../shared: every arm
runs, and compare prints the paper's columns with the published numbers beside the measured."""

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from tests.conftest import REPO, SHARED_DATASETS, needs_shared_datasets, orchestrate
from trainables.data import synthetic_image

pytestmark = [pytest.mark.ray, needs_shared_datasets]

# preset -> (a column of its table, a published number in it)
PRESETS = {
    "em-attention": ("isbi2012 miou", "0.8147"),
    "full-attention-unet": ("isbi2012 miou", "0.9085"),
    "frem": ("sstem iou_synapse", "0.5814"),
    "coredeep": ("cracks image_false_positives", "32.0"),
    "steel-defects": ("severstal dice_mean_fg", "0.6920"),
}
# Data that is not public here: generated stand-ins with the same classes and shapes. CoreDeep's is a
# dataset folder of generated crack images named like the Kaggle crack set's (source prefix, 002 §2),
# imported with their sources recorded, for Table 2's crack IoU per source dataset.
CRACK_SOURCES = ("CFD", "Volker", "GAPS384")
STAND_INS = {
    "steel-defects": {
        "name": "severstal",
        "kind": "synthetic",
        "shape": "defects",  # four overlapping defect types, as multi-label masks
        "channels": 3,
        "num_images": 24,
        "image_size": 32,  # the encoders' five downsamplings still fit; an epoch a quarter of 64 px's
        "split": {"test": 4, "folds": 5},
    },
}
IMPORTERS = {"isbi2012": ("isbi2012", "isbi2012-em"), "sstem": ("sstem", "drosophila-vnc-sstem")}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A copy of studies/ beside a data/ folder holding the imported real datasets, as a user lays it out."""
    root = tmp_path_factory.mktemp("presets")
    shutil.copytree(REPO / "studies", root / "studies")
    for name, (importer, source) in IMPORTERS.items():
        imported = orchestrate("datasets", "import", importer, SHARED_DATASETS / source, root / "data" / name)
        assert imported.returncode == 0, imported.stderr
    _import_crack_stand_in(root)
    for preset in PRESETS:  # each copied spec read and written once, with every change below
        spec = root / "studies" / f"{preset}.yaml"
        data = yaml.safe_load(spec.read_text())
        if preset in STAND_INS:
            data["datasets"] = [{"split": data["datasets"][0]["split"], **STAND_INS[preset]}]
        if preset == "coredeep":
            _shrink_crack_photos(data)
        _train_one_epoch(data)
        spec.write_text(yaml.safe_dump(data, sort_keys=False))
    return root


def _train_one_epoch(data) -> None:
    # Smoke trains at most 2 epochs; what this test checks (every arm trains, is evaluated and fills the
    # paper's columns) needs one, and the second of 26 arms' epochs (resnet101 and efficientnet-b7
    # among them) is CPU time on a 2-core CI machine. The 2-epoch smoke budget: tests/orchestrator/study.
    data["budget"]["epochs"] = 1


def _shrink_crack_photos(data) -> None:
    # The stand-in crack photos are 64 px; the preset resizes them to 448 (112 at smoke budget), where
    # a resnet50 or efficientnet-b4 epoch takes 10-50 s on a CPU. What this test checks (every arm runs,
    # the paper's columns) does not need the size: 128 (32 at smoke budget) keeps the encoders' five
    # downsamplings whole.
    data["datasets"][0]["resize"] = [128, 128]


def _import_crack_stand_in(root):
    source = root / "crack-photos"
    (source / "images").mkdir(parents=True)
    (source / "masks").mkdir()
    for index in range(24):
        image, mask = synthetic_image("cracks", index, 64, seed=0)
        stem = f"{CRACK_SOURCES[index % 3]}_{index:03d}"
        Image.fromarray(np.repeat(image[..., None], 3, axis=2)).save(source / "images" / f"{stem}.jpg")
        Image.fromarray(mask * 255).save(source / "masks" / f"{stem}.png")
    imported = orchestrate(
        "datasets", "import", "folders", source, root / "data" / "cracks",
        "--class-map", "background=0,crack=255", "--source-pattern", "^([A-Za-z0-9]+)_",
    )  # fmt: skip
    assert imported.returncode == 0 and "sources: cfd, gaps384, volker" in imported.stdout, imported.stderr


LONGEST_FIRST = ["steel-defects", "coredeep", "frem", "full-attention-unet", "em-attention"]
assert sorted(LONGEST_FIRST) == sorted(PRESETS)
PRESETS_AT_ONCE = 2  # each runs its arms at once too: more only adds memory (Ray kills workers near 95 %)


def _run_at_smoke_budget(workspace, preset: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", "run", workspace / "studies" / f"{preset}.yaml", "--budget", "smoke"]
        + ["--storage", str(workspace / "runs")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1500,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.fixture(scope="module")
def smoke_runs(workspace):
    """Every preset run at smoke budget, a few at once (each its own driver and local Ray): a trial
    is mostly start-up, so they share the machine well. Preset -> (return code, stdout, stderr)."""
    with ThreadPoolExecutor(PRESETS_AT_ONCE) as pool:
        # Longest first (most arms, largest encoders), so the short ones fill in beside it at the end.
        runs = {preset: pool.submit(_run_at_smoke_budget, workspace, preset) for preset in LONGEST_FIRST}
        finished = {preset: run.result() for preset, run in runs.items()}
    return {preset: (done.returncode, done.stdout, done.stderr) for preset, done in finished.items()}


def _rows(stdout: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in stdout.splitlines() if line[:2] == "| "]


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_runs_at_smoke_budget_and_compares_with_the_paper(workspace, smoke_runs, preset):
    column, published = PRESETS[preset]
    returncode, stdout, stderr = smoke_runs[preset]
    assert returncode == 0, stdout[-3000:] + stderr[-3000:]
    header, _, *rows = _rows(stdout)
    assert column in header and f"{column} pub" in header and f"{column} Δ" in header
    assert published in [row[header.index(f"{column} pub")] for row in rows]
    assert all(row[header.index(column)] != "–" for row in rows)  # every arm was evaluated
    spec = workspace / "studies" / f"{preset}.yaml"
    layout = yaml.safe_load(spec.read_text())
    for dataset in [entry["name"] for entry in layout["datasets"]]:
        for metric in layout["compare"]["metrics"]:  # every column of the paper's table, published beside
            cell = f"{dataset} {metric}"
            assert {cell, f"{cell} pub", f"{cell} Δ"} <= set(header), (cell, header)
            assert any(row[header.index(f"{cell} pub")] != "–" for row in rows), cell
    validated = orchestrate("validate", spec)  # the full preset validates on the same data
    assert validated.returncode == 0, validated.stderr
    status = orchestrate("status", workspace / "runs" / f"{preset}-smoke")
    assert status.returncode == 0 and "running" not in status.stdout


def test_coredeep_reports_crack_iou_per_source_dataset(workspace, smoke_runs):
    # 002 Table 2: crack IoU on the test images of each source dataset, beside the published number.
    study = workspace / "runs" / "coredeep-smoke"
    first_test_image = json.loads((study / "splits" / "cracks.json").read_text())["test"][0]
    source = first_test_image.split("_")[0].lower()
    result = orchestrate("compare", study, "--metric", f"crack_iou_{source}")
    assert result.returncode == 0, result.stderr
    header, _, *rows = _rows(result.stdout)
    published = {(row[0], row[1]): row[header.index("cracks published")] for row in rows}
    references = pd.read_csv(REPO / "studies" / "references" / "coredeep.csv")
    expected = references[(references["variant"] == "SW95") & (references["metric"] == f"crack_iou_{source}")]
    assert published[("unet_resnet50", "SW95")] == f"{expected['value'].iloc[0]:.4f}"
    assert all(row[header.index("cracks")] != "–" for row in rows)  # every row measured on that source
