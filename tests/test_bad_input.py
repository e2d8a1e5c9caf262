"""Bad input across every command: exit code 2, at most 3 lines naming the problem and the fix, no
traceback, and nothing already written lost or overwritten.

Each case builds what it needs in a workspace holding a study folder (its spec and a results file)
and a dataset, runs the real CLI in-process (Typer's runner), and compares every file of the
workspace before and after. Cases that need a cluster or Ray never get that far: they are refused
before anything starts.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.study.folder import StudyDir
from orchestrator.study.spec import StudySpec
from tests.conftest import tiny_spec

runner = CliRunner()


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def study(self) -> Path:
        return self.root / "runs" / "kept"

    @property
    def dataset(self) -> Path:
        return self.root / "data" / "cells"

    def spec(self, name: str = "bad", **overrides) -> str:
        path = self.root / f"{name}.yaml"
        path.write_text(yaml.safe_dump(tiny_spec(name, **overrides)))
        return str(path)

    def text(self, name: str, content: str) -> str:
        (self.root / name).write_text(content)
        return str(self.root / name)

    def source_folder(self, breakage: Callable[[Path], object] = lambda _: None) -> str:
        source = self.root / "source"
        (source / "images").mkdir(parents=True, exist_ok=True)
        (source / "masks").mkdir(exist_ok=True)
        for index in range(3):
            Image.fromarray(np.full((16, 16), 90, np.uint8)).save(source / "images" / f"{index}.png")
            Image.fromarray((np.eye(16) * 255).astype(np.uint8)).save(source / "masks" / f"{index}.png")
        breakage(source)
        return str(source)


@pytest.fixture
def workspace(tmp_path) -> Workspace:
    space = Workspace(tmp_path)
    study = StudyDir.create(StudySpec.model_validate(tiny_spec("kept")), tmp_path / "runs")
    arm = study.spec.arms()[0]
    key = {"study": "kept", "arm": arm.id, "dataset": "cells", "architecture": "unet", "variant": arm.variant.name}
    study.results.write_trial(arm.id, "t1", {**key, "trial_id": "t1", "status": "completed", "best_metric": 0.5})
    evaluation = {**key, "trial_id": "t1", "fold": 0, "eval_split": "test", "test_miou": 0.4}
    study.results.write_evaluation(arm.id, "t1", evaluation, [])
    space.dataset.mkdir(parents=True)
    (space.dataset / "dataset.yaml").write_text("name: cells\n")
    return space


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:40])


def _import(w: Workspace, source: str, destination: str | None = None, *options: str) -> list[str]:
    return ["datasets", "import", "folders", source, destination or str(w.root / "imported"), *options]


# (case id, arguments built from the workspace, a fragment the message must hold)
CASES: list[tuple[str, Callable[[Workspace], list[str]], str]] = [
    # specs
    ("spec-missing", lambda w: ["validate", str(w.root / "nope.yaml")], "not found"),
    ("spec-malformed-yaml", lambda w: ["validate", w.text("m.yaml", "name: [unclosed\n")], "malformed YAML"),
    ("spec-not-a-mapping", lambda w: ["validate", w.text("l.yaml", "- a\n- b\n")], "must be a YAML mapping"),
    ("spec-unknown-key", lambda w: ["validate", w.spec(budgett={"epochs": 1})], "budgett"),
    ("spec-unknown-architecture", lambda w: ["validate", w.spec(architectures=["unett"])], "unett"),
    ("spec-unknown-variant", lambda w: ["validate", w.spec(variants=["fremm"])], "fremm"),
    (
        "spec-unknown-smp-encoder",
        lambda w: ["validate", w.spec(architectures=[{"name": "smp_unet", "params": {"encoder": "resnet9000"}}])],
        "resnet9000",
    ),
    (
        "spec-smp-encoder-too-deep",
        lambda w: ["validate", w.spec(architectures=[{"name": "smp_unet", "params": {"encoder_depth": 9}}])],
        "encoder_depth=9",
    ),
    ("spec-zero-trials", lambda w: ["validate", w.spec(budget={"trials_per_arm": 0, "epochs": 1})], "trials_per_arm"),
    ("spec-zero-epochs", lambda w: ["validate", w.spec(budget={"trials_per_arm": 1, "epochs": 0})], "epochs"),
    (
        "spec-unknown-search-space",
        lambda w: ["validate", w.spec(variants=[{"name": "baseline", "search_space": "nowhere"}])],
        "nowhere",
    ),
    (
        "spec-dataset-folder-missing",
        lambda w: ["validate", w.spec(datasets=[{"name": "gone", "path": str(w.root / "gone")}])],
        "gone",
    ),
    (
        "spec-threshold-and-sweep",
        lambda w: ["validate", w.spec(evaluation={"threshold": 0.5, "threshold_sweep": True})],
        "not both",
    ),
    # resources
    (
        "resources-zero-cpus",
        lambda w: ["validate", w.spec(resources={"workers": 1, "cpus_per_worker": 0})],
        "cpus_per_worker",
    ),
    (
        "resources-more-cpus-than-this-machine",
        lambda w: ["run", w.spec(resources={"workers": 64, "cpus_per_worker": 64}), "--storage", str(w.root / "new")],
        "CPU",
    ),
    (
        "resources-gpus-this-machine-lacks",
        lambda w: [
            "run",
            w.spec(resources={"workers": 1, "cpus_per_worker": 1, "gpus_per_worker": 64}),
            "--storage",
            str(w.root / "new"),
        ],
        "GPU",
    ),
    # running
    (
        "run-study-that-exists",
        lambda w: ["run", w.spec("kept"), "--storage", str(w.root / "runs")],
        "orchestrate resume",
    ),
    (
        "run-no-cluster-at-address",
        lambda w: ["run", w.spec(), "--storage", str(w.root / "new"), "--address", "127.0.0.1:9"],
        "no Ray cluster answers",
    ),
    ("resume-not-a-study", lambda w: ["resume", str(w.root / "data")], "not a study directory"),
    ("run-storage-unknown-uri-scheme", lambda w: ["run", w.spec(), "--storage", "foo://bucket/runs"], "foo://"),
    ("run-relative-checkpoint-storage", lambda w: ["run", w.spec(), "--checkpoint-storage", "ckpts"], "relative"),
    (
        "run-unknown-checkpoint-storage-scheme",
        lambda w: ["run", w.spec(checkpoint_storage="nope://x/y"), "--storage", str(w.root / "new")],
        "nope://x/y",
    ),
    # data imports
    ("import-unknown-kind", lambda w: ["datasets", "import", "kaggle", w.source_folder(), str(w.root / "x")], "kaggle"),
    ("import-missing-source", lambda w: _import(w, str(w.root / "nowhere")), "nowhere"),
    ("import-into-non-empty-folder", lambda w: _import(w, w.source_folder(), str(w.dataset)), "--force"),
    ("import-missing-mask", lambda w: _import(w, w.source_folder(lambda s: (s / "masks" / "1.png").unlink())), "1.png"),
    (
        "import-truncated-image",
        lambda w: _import(w, w.source_folder(lambda s: _truncate(s / "images" / "2.png"))),
        "2.png",
    ),
    ("import-bad-class-map", lambda w: _import(w, w.source_folder(), None, "--class-map", "background"), "class-map"),
    # reading results
    ("status-not-a-study", lambda w: ["status", str(w.root / "data")], "not a study directory"),
    ("compare-not-a-study", lambda w: ["compare", str(w.root / "data")], "not a study directory"),
    ("compare-unknown-uri-scheme", lambda w: ["compare", "foo://bucket/study"], "Unrecognized filesystem type"),
    ("compare-unknown-metric", lambda w: ["compare", str(w.study), "--metric", "accuracyy"], "accuracyy"),
    ("compare-unknown-baseline", lambda w: ["compare", str(w.study), "--baseline", "nosuchvariant"], "nosuchvariant"),
    (
        "compare-missing-reference",
        lambda w: ["compare", str(w.study), "--reference", str(w.root / "pub.csv")],
        "pub.csv",
    ),
    ("plot-not-a-study", lambda w: ["plot", str(w.root / "data")], "not a study directory"),
    ("dashboard-before-any-trial", lambda w: ["dashboard", str(w.study)], "no Optuna storage yet"),
    ("datasets-show-not-a-dataset", lambda w: ["datasets", "show", str(w.root / "runs")], "dataset"),
    # clusters
    ("submit-relative-storage", lambda w: ["submit", w.spec(), "--storage", "runs"], "relative"),
    ("jobs-nothing-at-address", lambda w: ["jobs", "--address", "http://127.0.0.1:9"], "no Ray Jobs API answers"),
]


def _files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


@pytest.mark.parametrize(("build", "fragment"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_is_one_short_message_with_exit_code_2_and_loses_nothing(workspace, build, fragment):
    arguments = build(workspace)
    before = _files(workspace.root)
    result = runner.invoke(app, arguments)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (result.output, result.exception)
    assert 1 <= len(lines) <= 3 and "Traceback" not in result.output, result.output
    assert fragment in result.output, result.output
    after = _files(workspace.root)
    assert {path: after.get(path) for path in before} == before  # nothing lost or overwritten


def test_the_table_covers_at_least_25_classes_of_bad_input_across_every_command():
    assert len(CASES) >= 25
    kinds = {case[0].split("-")[0] for case in CASES}
    assert kinds == {"spec", "resources", "run", "resume", "import", "status", "compare", "plot", "dashboard"} | {
        "datasets",
        "submit",
        "jobs",
    }
