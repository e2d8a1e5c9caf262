"""Importers on the real datasets in ../shared/datasets, and broken data found before any trial."""

import csv
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.datasets import DatasetError, check_dataset, import_dataset, summarize
from orchestrator.datasets.importers import decode_rle
from tests.conftest import SHARED_DATASETS as SHARED
from tests.conftest import needs_shared_datasets as needs_shared
from trainables.config import DataSource
from trainables.data import image_sources, is_multi_label, load_pairs

runner = CliRunner()


def pixel_counts(masks: list[np.ndarray], values) -> dict:
    stacked = np.stack(masks)
    return {value: int((stacked == value).sum()) for value in values}


@needs_shared
def test_import_isbi2012_counts_sizes_and_class_pixels(tmp_path):
    src = SHARED / "isbi2012-em"
    result = runner.invoke(app, ["datasets", "import", "isbi2012", str(src), str(tmp_path / "isbi")])
    assert result.exit_code == 0, result.output
    # Independently: straight from the source PNGs, 255 = cell, 0 = membrane.
    labels = [np.asarray(Image.open(src / "train" / "label" / f"{i}.png")) for i in range(30)]
    expected = pixel_counts(labels, [0, 255])
    info = summarize(tmp_path / "isbi")
    assert info["images"] == 30 and info["sizes"] == ["512x512"] and info["channels"] == 1
    assert [c["name"] for c in info["classes"]] == ["membrane", "cell"]
    assert [c["pixels"] for c in info["classes"]] == [expected[0], expected[255]]
    image = np.asarray(Image.open(tmp_path / "isbi" / "images" / "7.png"))
    assert np.array_equal(image, np.asarray(Image.open(src / "train" / "image" / "7.png").convert("L")))


@needs_shared
def test_import_sstem_four_class_protocol(tmp_path):
    src = SHARED / "drosophila-vnc-sstem"
    report = import_dataset("sstem", src, tmp_path / "sstem")
    assert report["count"] == 20 and report["classes"] == ["membrane", "mitochondria", "synapse", "background"]
    labels = [np.asarray(Image.open(p)) for p in sorted((src / "stack1" / "labels").glob("*.png"))]
    raw = pixel_counts(labels, [0, 32, 64, 96, 128, 159, 191, 223, 255])
    expected = [raw[0] + raw[32] + raw[64] + raw[96] + raw[128], raw[191], raw[223], raw[159] + raw[255]]
    info = summarize(tmp_path / "sstem")
    assert info["images"] == 20 and info["sizes"] == ["1024x1024"]
    assert [c["pixels"] for c in info["classes"]] == expected
    assert sum(expected) == 20 * 1024 * 1024


def _folder_dataset(root: Path, count: int = 3, size=(16, 16)) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    manifest = {"name": root.name, "channels": 1, "classes": [{"name": "bg", "value": 0}, {"name": "fg", "value": 1}]}
    (root / "dataset.yaml").write_text(yaml.safe_dump(manifest))
    for i in range(count):
        Image.fromarray(np.full(size, 100, np.uint8)).save(root / "images" / f"{i}.png")
        Image.fromarray(np.eye(*size, dtype=np.uint8)).save(root / "masks" / f"{i}.png")
    return root


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda r: (r / "masks" / "1.png").unlink(), r"images without a mask .*\(1 file\(s\)\): 1.png"),
        (
            lambda r: Image.fromarray(np.zeros((8, 16), np.uint8)).save(r / "masks" / "2.png"),
            "image and mask sizes differ .*2.png",
        ),
        (
            lambda r: Image.fromarray(np.full((16, 16), 7, np.uint8)).save(r / "masks" / "0.png"),
            r"mask values not in the class map \[0, 1\] .*0.png \[7\]",
        ),
        (
            lambda r: (r / "images" / "0.png").write_bytes((r / "images" / "0.png").read_bytes()[:40]),
            "unreadable or truncated .*0.png",
        ),
        (lambda r: [p.unlink() for p in (r / "images").glob("*.png")], "is empty"),
    ],
    ids=["missing-mask", "size-mismatch", "unknown-value", "truncated", "empty"],
)
def test_broken_data_is_found_with_the_files_named(tmp_path, breakage, message):
    root = _folder_dataset(tmp_path / "data")
    breakage(root)
    with pytest.raises(DatasetError, match=message):
        check_dataset(root)


def test_broken_data_stops_validation_with_exit_code_2_and_lists_the_first_files(tmp_path, write_spec):
    root = _folder_dataset(tmp_path / "data", count=6)
    for i in range(5):
        (root / "masks" / f"{i}.png").unlink()
    from tests.conftest import tiny_spec

    spec = tiny_spec(datasets=[{"name": "data", "path": str(root)}])
    result = runner.invoke(app, ["validate", str(write_spec(spec))])
    assert result.exit_code == 2
    assert "(5 file(s)): 0.png, 1.png, 2.png and 2 more" in result.output and "Traceback" not in result.output


def test_a_split_with_an_empty_fold_is_an_error_at_validation(tmp_path, write_spec):
    from tests.conftest import tiny_spec

    spec = tiny_spec(
        datasets=[
            {
                "name": "c",
                "kind": "synthetic",
                "num_images": 4,
                "image_size": 32,
                "split": {"val": 1, "test": 1, "folds": 4},
            }
        ]
    )
    result = runner.invoke(app, ["validate", str(write_spec(spec))])
    assert result.exit_code == 2 and "fold 3 is empty" in result.output


def test_folders_importer_with_a_class_map(tmp_path):
    src = tmp_path / "src"
    (src / "images").mkdir(parents=True)
    (src / "masks").mkdir()
    for i in range(2):
        Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(src / "images" / f"img{i}.jpg")
        mask = np.zeros((8, 8), np.uint8)
        mask[2:4] = 255
        Image.fromarray(mask).save(src / "masks" / f"img{i}.png")
    result = runner.invoke(
        app, ["datasets", "import", "folders", str(src), str(tmp_path / "out"), "--class-map", "background=0,crack=255"]
    )
    assert result.exit_code == 0, result.output
    info = summarize(tmp_path / "out")
    assert info["channels"] == 3 and [c["pixels"] for c in info["classes"]] == [2 * 48, 2 * 16]


def test_rle_decoding_is_one_indexed_and_column_major():
    mask = decode_rle("1 2 7 1", (3, 4))  # height 3, width 4
    expected = np.zeros((3, 4), np.uint8)
    expected[0, 0] = expected[1, 0] = 1  # pixels 1-2: down the first column
    expected[0, 2] = 1  # pixel 7: first row of the third column
    assert np.array_equal(mask, expected)


def _steel_source(tmp_path):
    src = tmp_path / "steel"
    (src / "images").mkdir(parents=True)
    for stem in ("a", "b", "defect_free"):  # 003 §5.1: a defect-free image has no CSV row
        Image.fromarray(np.zeros((4, 6), np.uint8)).save(src / "images" / f"{stem}.jpg")
    with open(src / "train.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerows(
            [
                ["ImageId", "ClassId", "EncodedPixels"],
                ["a.jpg", "1", "1 4"],
                ["a.jpg", "3", "3 2 21 2"],  # overlaps class 1 at pixel 3-4 (rows 2-3 of column 0)
                ["b.jpg", "3", "5 1"],
            ]
        )
    return src


def test_rle_csv_importer_keeps_overlapping_defects_as_bits(tmp_path):
    report = import_dataset("rle-csv", _steel_source(tmp_path), tmp_path / "out")
    assert report["classes"] == ["background", "class_1", "class_3"] and report["count"] == 3
    assert report["multi_label"]
    mask = np.asarray(Image.open(tmp_path / "out" / "masks" / "a.png"))
    assert mask[:, 0].tolist() == [1, 1, 3, 3] and mask[0, 5] == 2 and mask[1, 5] == 2  # 003 §5.1.3
    assert not np.asarray(Image.open(tmp_path / "out" / "masks" / "defect_free.png")).any()
    info = summarize(tmp_path / "out")
    assert info["multi_label"] and [c["pixels"] for c in info["classes"]] == [72 - 7, 4, 5]
    source = DataSource("steel", "folder", str(tmp_path / "out"), "cells", 0, 0, None, None, None)
    assert is_multi_label(source)
    (_, loaded), *_ = load_pairs(source, ["a"], seed=0)
    assert np.array_equal(loaded, mask)


def test_rle_csv_single_label_lets_the_higher_class_win(tmp_path):
    report = import_dataset("rle-csv", _steel_source(tmp_path), tmp_path / "out", single_label=True)
    assert not report["multi_label"]
    mask = np.asarray(Image.open(tmp_path / "out" / "masks" / "a.png"))
    assert mask[:, 0].tolist() == [1, 1, 2, 2]


def test_a_multi_label_mask_with_an_unknown_bit_is_refused(tmp_path):
    import_dataset("rle-csv", _steel_source(tmp_path), tmp_path / "out")
    Image.fromarray(np.full((4, 6), 4, np.uint8)).save(tmp_path / "out" / "masks" / "b.png")
    with pytest.raises(DatasetError, match=r"mask values not in the class map .*b.png \[4\]"):
        check_dataset(tmp_path / "out")


def test_crackforest_skips_images_without_ground_truth(tmp_path):
    from scipy.io import savemat

    src = tmp_path / "cfd"
    (src / "image").mkdir(parents=True)
    (src / "groundTruth").mkdir()
    for stem in ("001", "002"):
        Image.fromarray(np.full((8, 8, 3), 120, np.uint8)).save(src / "image" / f"{stem}.jpg")
    segmentation = np.ones((8, 8), np.uint8)
    segmentation[3, :] = 2
    savemat(
        src / "groundTruth" / "001.mat",
        {"groundTruth": {"Segmentation": segmentation, "Boundaries": segmentation == 2}},
    )
    report = import_dataset("crackforest", src, tmp_path / "out")
    assert report["count"] == 1 and report["skipped"] == ["002.jpg"]
    assert np.asarray(Image.open(tmp_path / "out" / "masks" / "001.png")).sum() == 8


def test_unknown_import_kind_and_missing_source():
    result = runner.invoke(app, ["datasets", "import", "kaggle", "x", "y"])
    assert result.exit_code == 2 and "unknown dataset kind 'kaggle'" in result.output
    result = runner.invoke(app, ["datasets", "import", "isbi2012", "/nowhere", "y"])
    assert result.exit_code == 2 and "does not exist" in result.output


def _named_folder(tmp_path, stems):
    src = tmp_path / "photos"
    (src / "images").mkdir(parents=True)
    (src / "masks").mkdir()
    for stem in stems:
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(src / "images" / f"{stem}.png")
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(src / "masks" / f"{stem}.png")
    return src


def test_a_source_pattern_records_each_images_source_dataset(tmp_path):
    # 002 Table 2 reports crack IoU per source dataset of the merged crack set.
    src = _named_folder(tmp_path, ["Sylvie_Chambon_001", "CFD_002", "CRACK500_2016_003"])
    report = import_dataset("folders", src, tmp_path / "out", source_pattern=r"^(.+?)_\d")
    assert report["sources"] == ["cfd", "crack500", "sylvie_chambon"]
    source = DataSource("out", "folder", str(tmp_path / "out"), "cells", 0, 0, None, None, None)
    assert image_sources(source) == {
        "Sylvie_Chambon_001": "sylvie_chambon",
        "CFD_002": "cfd",
        "CRACK500_2016_003": "crack500",
    }


def test_a_source_pattern_that_misses_an_image_is_refused_before_anything_is_written(tmp_path):
    src = _named_folder(tmp_path, ["CFD_001", "noprefix"])
    result = runner.invoke(
        app, ["datasets", "import", "folders", str(src), str(tmp_path / "out"), "--source-pattern", "^([A-Z]+)_"]
    )
    assert result.exit_code == 2 and "does not match (1 file(s)): noprefix; fix the pattern" in result.output
    assert not (tmp_path / "out").exists()


def _isbi_copy(tmp_path, images: int = 3):
    """The first few slices of the real ISBI 2012 stack, in its published layout."""
    src = tmp_path / "isbi"
    for part in ("image", "label"):
        (src / "train" / part).mkdir(parents=True)
        for index in range(images):
            name = f"{index}.png"
            (src / "train" / part / name).write_bytes((SHARED / "isbi2012-em" / "train" / part / name).read_bytes())
    return src


def _one_line_exit_2(result):
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) <= 3 and "Traceback" not in result.output, result.output
    return result.output


@needs_shared
def test_a_missing_label_file_is_one_line_naming_it_and_nothing_is_written(tmp_path):
    src = _isbi_copy(tmp_path)
    (src / "train" / "label" / "1.png").unlink()
    output = _one_line_exit_2(runner.invoke(app, ["datasets", "import", "isbi2012", str(src), str(tmp_path / "out")]))
    assert "1.png is missing" in output and not (tmp_path / "out").exists()


@needs_shared
def test_a_truncated_png_is_one_line_naming_it_and_nothing_is_written(tmp_path):
    src = _isbi_copy(tmp_path)
    image = src / "train" / "image" / "2.png"
    image.write_bytes(image.read_bytes()[:2000])
    output = _one_line_exit_2(runner.invoke(app, ["datasets", "import", "isbi2012", str(src), str(tmp_path / "out")]))
    assert "2.png cannot be read" in output and not (tmp_path / "out").exists()


@needs_shared
def test_importing_into_a_folder_that_holds_files_refuses_unless_forced(tmp_path):
    src, dest = _isbi_copy(tmp_path), tmp_path / "out"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    output = _one_line_exit_2(runner.invoke(app, ["datasets", "import", "isbi2012", str(src), str(dest)]))
    assert "is not empty" in output and "--force" in output and sorted(p.name for p in dest.iterdir()) == ["notes.txt"]
    forced = runner.invoke(app, ["datasets", "import", "isbi2012", str(src), str(dest), "--force"])
    assert forced.exit_code == 0, forced.output
    assert (dest / "notes.txt").read_text() == "mine" and len(list((dest / "images").glob("*.png"))) == 3
