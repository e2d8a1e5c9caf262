"""A small real study with 2 folds: final evaluation, `compare` reports in every format, plots."""

import csv
import io
import math
import re
from html.parser import HTMLParser

import numpy as np
import pyarrow.dataset as ds
import pytest
import yaml
from PIL import Image

from tests.conftest import orchestrate, tiny_spec

pytestmark = pytest.mark.ray

ARMS = [
    "cells__unet__baseline__fold0",
    "cells__unet__baseline__fold1",
    "cells__unet__frem__fold0",
    "cells__unet__frem__fold1",
]


@pytest.fixture(scope="module")
def folds_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("folds")
    spec = tiny_spec(
        "folds",
        datasets=[
            {"name": "cells", "kind": "synthetic", "num_images": 16, "image_size": 32, "split": {"folds": 2, "test": 4}}
        ],
        budget={"trials_per_arm": 2, "epochs": 2, "max_concurrent_trials": 2},
        training={"batch_size": 4, "loss": {"ce": 0.5, "dice": 0.5}},
        evaluation={"threshold_sweep": True},
    )
    (root / "spec.yaml").write_text(yaml.safe_dump(spec))
    result = orchestrate("run", root / "spec.yaml", "--storage", root / "runs")
    assert result.returncode == 0, result.stdout + result.stderr
    return root / "runs" / "folds"


def _table(root, name):
    return ds.dataset(root / "results" / name).to_table().to_pandas()


def test_every_fold_is_an_arm_and_each_arm_is_evaluated_once_on_the_test_images(folds_study):
    trials, tests, images = (_table(folds_study, t) for t in ("trials", "tests", "images"))
    assert sorted(trials["arm"].unique()) == ARMS and sorted(trials["fold"].unique()) == [0, 1]
    assert sorted(tests["arm"]) == ARMS and (tests["eval_split"] == "test").all() and (tests["images"] == 4).all()
    # Submitted by the study's one Ray job, at most two at once on these 2 CPUs: an evaluation after
    # those reuses an idle worker (torch and the model code loaded) instead of starting one per arm.
    assert tests["evaluation_worker_id"].nunique() < len(ARMS), tests["evaluation_worker_id"]
    for _, row in tests.iterrows():  # the evaluated trial is the arm's best by validation
        mine = trials[trials["arm"] == row["arm"]]
        assert row["trial_id"] == mine.loc[mine["best_metric"].idxmax(), "trial_id"]
    assert len(images) == 16 and images.groupby("arm")["image"].nunique().eq(4).all()
    assert (
        tests["test_miou"].between(0, 1).all() and (tests["parameters"] > 0).all() and (tests["inference_ms"] > 0).all()
    )
    # binary task: threshold chosen on validation from the sweep, crack-style metrics and image-level errors
    assert tests["threshold"].isin([0.5, *np.round(np.arange(0.90, 0.985, 0.01), 2)]).all()
    assert {
        "test_crack_iou",
        "test_background_f1",
        "image_false_positives",
        "val_fg_iou_t095",
        "presence_accuracy_cell",
    } <= set(tests.columns)


def _cells(markdown: str) -> dict[str, list[str]]:
    rows = [line.strip("|").split(" | ") for line in markdown.splitlines() if line.startswith("| ")]
    header = [h.strip() for h in rows[0]]
    return {row[1].strip(): dict(zip(header, (c.strip() for c in row), strict=True)) for row in rows[1:]}


def test_compare_reports_mean_and_spread_over_folds_best_in_bold_and_p_values(folds_study):
    result = orchestrate("compare", folds_study, "--per-class", "--baseline", "baseline", timeout=120)
    assert result.returncode == 0, result.stderr
    rows = _cells(result.stdout)
    tests = _table(folds_study, "tests")
    means = {}
    for variant in ("baseline", "frem"):
        values = tests.loc[tests["variant"] == variant, "test_miou"]
        means[variant] = values.mean()
        expected = f"{values.mean():.4f} ± {values.std(ddof=1):.4f}"
        assert rows[variant]["cells"].strip("*") == expected
    best = max(means, key=means.get)
    assert rows[best]["cells"].startswith("**") and not rows[min(means, key=means.get)]["cells"].startswith("**")
    assert rows["baseline"]["cells Δ"] == "baseline"
    assert float(rows["frem"]["cells Δ"]) == pytest.approx(means["frem"] - means["baseline"], abs=1e-4)
    p = rows["frem"]["cells p"]
    assert p == "<0.001" or 0 <= float(p) <= 1
    assert "cells IoU cell" in rows["frem"] and "Wilcoxon" in result.stdout and "NaN" in result.stdout


def test_compare_with_published_numbers(folds_study, tmp_path):
    reference = tmp_path / "published.csv"
    reference.write_text("architecture,variant,dataset,value,source\nunet,baseline,cells,0.5,made up\n")
    result = orchestrate("compare", folds_study, "--reference", reference, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = _cells(result.stdout)
    measured = float(rows["baseline"]["cells"].strip("*").split(" ± ")[0])
    assert rows["baseline"]["cells published"] == "0.5000"
    assert float(rows["baseline"]["cells Δpub"]) == pytest.approx(measured - 0.5, abs=1e-4)
    assert rows["frem"]["cells published"] == "–"


def test_a_paper_layout_puts_each_metric_beside_its_published_number(folds_study, tmp_path):
    from orchestrator.reports.compare import CompareOptions, compare_studies
    from orchestrator.study.folder import StudyDir

    reference = tmp_path / "paper.csv"
    reference.write_text(
        "architecture,variant,dataset,metric,value\n"
        "unet,baseline,cells,miou,0.5\nunet,baseline,cells,crack_f1,0.25\nunet,frem,cells,crack_f1,0.75\n"
    )
    options = CompareOptions(layout=["miou", "iou_cell", "crack_f1"], reference=reference)
    text = compare_studies([StudyDir.open(folds_study)], options)
    header = text.splitlines()[0]
    assert header.startswith(
        "| architecture | variant | cells miou | cells miou pub | cells miou Δ | cells iou_cell | "
        "cells crack_f1 | cells crack_f1 pub | cells crack_f1 Δ | params |"
    )
    rows = _cells(text)
    tests = _table(folds_study, "tests")
    frem_f1 = tests.loc[tests["variant"] == "frem", "test_crack_f1"].mean()
    assert rows["frem"]["cells crack_f1 pub"] == "0.7500" and rows["frem"]["cells miou pub"] == "–"
    assert float(rows["frem"]["cells crack_f1 Δ"]) == pytest.approx(frem_f1 - 0.75, abs=1e-4)
    assert "pub: published numbers (paper.csv)" in text


class _TableParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.bold, self._in_cell = [], 0, False

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._in_cell = True
            self.rows[-1].append("")
        elif tag == "b":
            self.bold += 1

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data):
        if self._in_cell:
            self.rows[-1][-1] += data


@pytest.mark.parametrize("fmt", ["csv", "html", "latex"])
def test_each_format_parses(folds_study, tmp_path, fmt):
    out = tmp_path / f"table.{fmt}"
    result = orchestrate(
        "compare", folds_study, "--format", fmt, "--output", out, "--baseline", "baseline", timeout=120
    )
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0][:3] == ["architecture", "variant", "cells"] and len(rows) == 3
        assert all(len(row) == len(rows[0]) for row in rows)
        assert all(0 <= float(row[2].split(" ± ")[0]) <= 1 for row in rows[1:])
    elif fmt == "html":
        parser = _TableParser()
        parser.feed(text)
        assert parser.rows[0][:3] == ["architecture", "variant", "cells"] and len(parser.rows) == 3
        assert all(len(row) == len(parser.rows[0]) for row in parser.rows) and parser.bold >= 1
    else:
        assert text.index(r"\begin{table}") < text.index(r"\begin{tabular}") < text.index(r"\toprule")
        assert (
            text.index(r"\midrule")
            < text.index(r"\bottomrule")
            < text.index(r"\end{tabular}")
            < text.index(r"\end{table}")
        )
        body = text[text.index(r"\toprule") + 7 : text.index(r"\bottomrule")]
        lines = [line for line in body.splitlines() if line.endswith(r"\\")]
        columns = re.search(r"\\begin\{tabular\}\{(\w+)\}", text).group(1)
        assert len(lines) == 3 and all(line.count(" & ") == len(columns) - 1 for line in lines)
        assert r"\textbf{" in text and r"$\pm$" in text and "_" not in body.replace(r"\_", "")


def test_plots_are_written_as_png(folds_study):
    result = orchestrate("plot", folds_study, timeout=120)
    assert result.returncode == 0, result.stderr
    plots = folds_study / "plots"
    names = {p.name for p in plots.glob("*.png")}
    assert {"history.png", "learning_curves.png", "cost.png"} <= names
    assert {"search_cells__unet__frem__fold0.png", "search_cells__unet__frem__fold1.png"} <= names
    for path in plots.glob("*.png"):
        with Image.open(path) as image:
            image.load()
            assert image.format == "PNG" and image.width > 100 and image.height > 100
            assert len(np.unique(np.asarray(image.convert("L")))) > 10  # something was drawn


def test_compare_of_a_study_that_has_not_finished_says_so(folds_study, tmp_path):
    import shutil

    copy = tmp_path / "folds"
    shutil.copytree(folds_study, copy)
    (copy / "state" / "cells__unet__frem__fold1.done").unlink()
    for table in ("tests", "images"):
        shutil.rmtree(copy / "results" / table / "cells__unet__frem__fold1")
    result = orchestrate("compare", copy, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "3 of 4 arms finished (still running or interrupted)" in result.stdout
    frem = _cells(result.stdout)["frem"]["cells"]
    assert "±" not in frem and not math.isnan(float(frem.strip("*")))  # only fold 0 is evaluated so far


def test_resume_redoes_an_interrupted_evaluation_and_runs_no_trial_again(folds_study, tmp_path):
    import shutil

    copy = tmp_path / "folds"
    shutil.copytree(folds_study, copy)
    arm = "cells__unet__frem__fold1"
    (copy / "state" / f"{arm}.done").unlink()  # as if the driver died while evaluating this arm
    shutil.rmtree(copy / "results" / "tests" / arm)
    before = _table(copy, "trials")
    result = orchestrate("resume", copy)
    assert result.returncode == 0, result.stdout + result.stderr
    after, tests = _table(copy, "trials"), _table(copy, "tests")
    assert sorted(after["trial_id"]) == sorted(before["trial_id"]) and len(after) == 8
    assert sorted(tests["arm"]) == ARMS and len(_table(copy, "images")) == 16
    original = _table(folds_study, "tests").set_index("arm")
    assert tests.set_index("arm").loc[arm, "test_miou"] == pytest.approx(original.loc[arm, "test_miou"])


def test_evaluations_that_fail_are_one_line_and_the_other_arms_are_evaluated(folds_study, tmp_path):
    import shutil

    copy = tmp_path / "folds"
    shutil.copytree(folds_study, copy)
    # As if the study process died before evaluating these arms; then one arm's checkpoints are cut
    # short (its task fails) and another's Ray Train snapshot is gone (the study's process fails).
    broken, lost, other = "cells__unet__frem__fold1", "cells__unet__frem__fold0", "cells__unet__baseline__fold0"
    for arm in (broken, lost, other):
        (copy / "state" / f"{arm}.done").unlink()
        shutil.rmtree(copy / "results" / "tests" / arm)
    for state in (copy / "train").glob(f"{broken}__*/checkpoint_*/state.pt"):
        state.write_bytes(b"cut short")
    for snapshot in (copy / "train").glob(f"{lost}__*/checkpoint_manager_snapshot.json"):
        snapshot.unlink()
    result = orchestrate("resume", copy)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    for arm in (broken, lost):
        assert f"arm {arm}: its final evaluation failed (" in result.stderr, result.stderr
        assert (copy / "logs" / f"evaluation-{arm}.log").read_text().strip()
        assert not (copy / "state" / f"{arm}.done").exists()
    assert "FileNotFoundError" in result.stderr and "then resume" in result.stderr
    assert sorted(_table(copy, "tests")["arm"]) == sorted(set(ARMS) - {broken, lost})  # the other arm evaluated
    assert (copy / "state" / f"{other}.done").exists()


def test_compare_status_and_plot_read_a_study_copied_to_an_object_store(folds_study, s3_bucket, tmp_path):
    import pyarrow.fs

    from tests.orchestrator.run.s3_server import BUCKET

    # As a user shares a finished study: the whole folder synced to a bucket (moto's S3 on 127.0.0.1).
    pyarrow.fs.copy_files(str(folds_study), f"{BUCKET}/shared/folds", destination_filesystem=s3_bucket)
    uri = f"s3://{BUCKET}/shared/folds"
    local, remote = (orchestrate("compare", where, "--per-class", timeout=120) for where in (folds_study, uri))
    assert remote.returncode == 0 and remote.stdout == local.stdout, remote.stderr
    assert "| unet | frem |" in remote.stdout
    status = orchestrate("status", uri, timeout=120)
    assert status.returncode == 0 and f"study folds at {uri}" in status.stdout, status.stdout + status.stderr
    plotted = orchestrate("plot", uri, "-o", tmp_path / "plots", timeout=120)
    assert plotted.returncode == 0 and len(list((tmp_path / "plots").glob("*.png"))) >= 3, plotted.stderr
    missing = orchestrate("compare", f"s3://{BUCKET}/shared/nothing")
    assert missing.returncode == 2 and "is not a study folder" in missing.stderr, missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1 and "Traceback" not in missing.stderr
