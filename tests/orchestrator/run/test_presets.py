"""Each reference-study preset, end to end at smoke budget on the real data in ../shared: every arm
runs, and compare prints the paper's columns with the published numbers beside the measured."""

import shutil

import pytest
import yaml

from tests.conftest import REPO, SHARED_DATASETS, needs_shared_datasets, orchestrate

pytestmark = [pytest.mark.ray, needs_shared_datasets]

# preset -> (a column of its table, a published number in it)
PRESETS = {
    "em-attention": ("isbi2012 miou", "0.8147"),
    "full-attention-unet": ("isbi2012 miou", "0.9085"),
    "frem": ("sstem iou_synapse", "0.5814"),
    "coredeep": ("cracks image_false_positives", "32.0"),
}
# Data that is not public here: generated stand-ins with the same classes and shapes.
STAND_INS = {
    "coredeep": {"name": "cracks", "kind": "synthetic", "shape": "cracks", "channels": 3, "num_images": 24},
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
    return root


def _rows(stdout: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in stdout.splitlines() if line[:2] == "| "]


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_runs_at_smoke_budget_and_compares_with_the_paper(workspace, preset):
    column, published = PRESETS[preset]
    spec = workspace / "studies" / f"{preset}.yaml"
    if preset in STAND_INS:
        data = yaml.safe_load(spec.read_text())
        data["datasets"] = [{**STAND_INS[preset], "split": data["datasets"][0]["split"]}]
        spec.write_text(yaml.safe_dump(data, sort_keys=False))
    result = orchestrate("run", spec, "--budget", "smoke", "--storage", workspace / "runs", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    study = workspace / "runs" / f"{preset}-smoke"
    header, _, *rows = _rows(result.stdout)
    assert column in header and f"{column} pub" in header and f"{column} Δ" in header
    assert published in [row[header.index(f"{column} pub")] for row in rows]
    assert all(row[header.index(column)] != "–" for row in rows)  # every arm was evaluated
    validated = orchestrate("validate", spec)  # the full preset validates on the same data
    assert validated.returncode == 0, validated.stderr
    status = orchestrate("status", study)
    assert status.returncode == 0 and "running" not in status.stdout
