"""Importers from published dataset layouts into the project's format.

Each takes the source folder and returns an ``Imported``: the class names and
the (stem, image, mask) items.
"""

import csv
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from orchestrator.datasets.check import DatasetError, offenders, read_image
from orchestrator.datasets.writer import write_dataset, write_sources
from trainables.data import MANIFEST
from trainables.labels import bit_values

Item = tuple[str, np.ndarray, np.ndarray]


class Imported(NamedTuple):
    class_names: list[str]
    items: Iterator[Item]
    multi_label: bool = False  # masks are bit masks (see trainables.labels)


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise DatasetError(f"{path} not found: {what}; check the source folder")
    return path


UNMAPPED = 255  # lookup value of a mask value no class claims


def _class_lookup(value_to_index: dict[int, int]) -> np.ndarray:
    """Mask value -> class index, ``UNMAPPED`` for any value not in the map."""
    lookup = np.full(256, UNMAPPED, np.uint8)
    for value, index in value_to_index.items():
        lookup[int(value)] = index
    return lookup


def isbi2012(src: Path, **_) -> Imported:
    """``train/image/N.png`` + ``train/label/N.png``; label 255 = cell, 0 = membrane."""
    images = sorted(
        _require(src / "train" / "image", "ISBI 2012 layout train/image/N.png").glob("*.png"), key=lambda p: int(p.stem)
    )
    labels = _require(src / "train" / "label", "ISBI 2012 layout train/label/N.png")

    def items():
        for path in images:
            label = read_image(labels / path.name, "L")
            yield path.stem, read_image(path, "L"), (label >= 128).astype(np.uint8)

    return Imported(["membrane", "cell"], items())


# The published four-class protocol on the merged labels of the ssTEM stack.
SSTEM_CLASSES = ["membrane", "mitochondria", "synapse", "background"]
SSTEM_VALUES = {0: 0, 32: 0, 64: 0, 96: 0, 128: 0, 191: 1, 223: 2, 159: 3, 255: 3}


def sstem(src: Path, **_) -> Imported:
    """Drosophila VNC ssTEM stack 1: ``stack1/raw/NN.tif`` + ``stack1/labels/labelsNNNNNNNN.png``."""
    raw = sorted(_require(src / "stack1" / "raw", "ssTEM layout stack1/raw/NN.tif").glob("*.tif"))
    labels = _require(src / "stack1" / "labels", "ssTEM layout stack1/labels/labelsNNNNNNNN.png")
    lookup = _class_lookup(SSTEM_VALUES)

    def items():
        for path in raw:
            label = read_image(labels / f"labels{int(path.stem):08d}.png", "L")
            mask = lookup[label]
            if (mask == UNMAPPED).any():
                raise DatasetError(
                    f"{path.name}: label values {sorted(set(np.unique(label)) - set(SSTEM_VALUES))} "
                    "not in the ssTEM label map"
                )
            yield path.stem, read_image(path, "L"), mask

    return Imported(SSTEM_CLASSES, items())


def crackforest(src: Path, skipped: list | None = None, **_) -> Imported:
    """``image/NNN.jpg`` + ``groundTruth/NNN.mat`` (struct groundTruth.Segmentation: 1 background, 2 crack)."""
    from scipy.io import loadmat

    images = sorted(_require(src / "image", "CrackForest layout image/NNN.jpg").glob("*.jpg"))
    truth = _require(src / "groundTruth", "CrackForest layout groundTruth/NNN.mat")

    def items():
        for path in images:
            mat_path = truth / f"{path.stem}.mat"
            if not mat_path.is_file():
                if skipped is not None:
                    skipped.append(path.name)
                continue
            segmentation = loadmat(mat_path)["groundTruth"][0, 0]["Segmentation"]
            yield path.stem, read_image(path, "RGB"), (np.asarray(segmentation) == 2).astype(np.uint8)

    return Imported(["background", "crack"], items())


def folders(src: Path, class_map: dict[str, int] | None = None, **_) -> Imported:
    """Any ``images/`` + ``masks/`` pair (same stems, any image format); ``class_map`` name -> mask value."""
    class_map = class_map or {"background": 0, "foreground": 255}
    images = sorted(p for p in _require(src / "images", "layout images/ + masks/").iterdir() if p.is_file())
    masks = {p.stem: p for p in _require(src / "masks", "layout images/ + masks/").iterdir() if p.is_file()}
    missing = [p.name for p in images if p.stem not in masks]
    if missing:
        raise offenders("images without a mask", missing, "add the masks or remove the images")
    lookup = _class_lookup({value: index for index, value in enumerate(class_map.values())})

    def items():
        for path in images:
            mask = lookup[read_image(masks[path.stem], "L")]
            if (mask == UNMAPPED).any():
                raise DatasetError(
                    f"{masks[path.stem].name}: mask values outside the class map {class_map}; pass --class-map"
                )
            image = read_image(path)
            yield path.stem, image if image.ndim == 2 else image[..., :3], mask

    return Imported(list(class_map), items())


def decode_rle(encoded: str, shape: tuple[int, int]) -> np.ndarray:
    """Run-length pairs (1-indexed start, length), column-major (the steel-defect convention)."""
    flat = np.zeros(shape[0] * shape[1], np.uint8)
    numbers = [int(n) for n in encoded.split()]
    for start, length in zip(numbers[0::2], numbers[1::2], strict=False):
        flat[start - 1 : start - 1 + length] = 1
    return flat.reshape(shape[1], shape[0]).T


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")


def rle_csv(src: Path, csv_name: str = "train.csv", single_label: bool = False, **_) -> Imported:
    """Images (in SRC, SRC/images or Kaggle's SRC/train_images) + a CSV of ``ImageId, ClassId,
    EncodedPixels``, as a multi-label dataset: one bit per ClassId,
    so overlapping defects keep every label (003 §5.1.3: four independent masks per image).
    ``single_label``: one class per pixel instead, the higher ClassId winning where they overlap.

    Every image in the folder is imported: the CSV lists only images with a defect (003 §5.1: about
    6.6k of Severstal's 12.5k training images), and the others are defect-free, all background.
    """
    table = _require(src / csv_name, "RLE layout: a CSV of ImageId,ClassId,EncodedPixels")
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    class_ids = sorted({int(r["ClassId"]) for r in rows})
    image_dir = next((src / name for name in ("images", "train_images") if (src / name).is_dir()), src)
    by_image: dict[str, list[dict]] = {p.name: [] for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    for row in rows:
        by_image.setdefault(row["ImageId"], []).append(row)
    labels = list(range(1, len(class_ids) + 1)) if single_label else bit_values(len(class_ids))

    def items():
        for image_name in sorted(by_image):
            image = read_image(_require(image_dir / image_name, "an image named in the CSV"), "L")
            mask = np.zeros(image.shape, np.uint8)
            for row in sorted(by_image[image_name], key=lambda r: int(r["ClassId"])):
                if row["EncodedPixels"].strip():
                    pixels = decode_rle(row["EncodedPixels"], image.shape) == 1
                    label = labels[class_ids.index(int(row["ClassId"]))]
                    mask[pixels] = label if single_label else mask[pixels] | label
            yield Path(image_name).stem, image, mask

    return Imported(["background", *(f"class_{c}" for c in class_ids)], items(), multi_label=not single_label)


IMPORTERS: dict[str, Callable] = {
    "isbi2012": isbi2012,
    "sstem": sstem,
    "crackforest": crackforest,
    "folders": folders,
    "rle-csv": rle_csv,
}


def source_of_each_image(stems: list[str], pattern: str) -> dict[str, str]:
    r"""Stem -> source name: the pattern's first group (or whole match), lower-cased, runs of other
    characters as "_" (``Sylvie_Chambon_001`` with ``^(.+)_\d+$`` -> ``sylvie_chambon``)."""
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise DatasetError(f"--source-pattern {pattern!r} is not a regular expression ({error}); fix it") from None
    sources, unmatched = {}, []
    for stem in stems:
        match = compiled.search(stem)
        if not match:
            unmatched.append(stem)
            continue
        name = match.group(1) if compiled.groups else match.group(0)
        sources[stem] = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if unmatched:
        raise offenders(f"images whose name --source-pattern {pattern!r} does not match", unmatched, "fix the pattern")
    return sources


def import_dataset(
    kind: str,
    src: str | Path,
    dest: str | Path,
    name: str | None = None,
    source_pattern: str | None = None,
    force: bool = False,
    **options,
) -> dict:
    """Read and check every file of ``src``, then write the dataset to ``dest`` (nothing is written on an error)."""
    if kind not in IMPORTERS:
        raise DatasetError(f"unknown dataset kind {kind!r}; known: {', '.join(IMPORTERS)}")
    src, dest = Path(src), Path(dest)
    if not src.is_dir():
        raise DatasetError(f"source folder {src} does not exist; give the folder the dataset was unpacked to")
    if (dest / MANIFEST).exists() and not force:
        raise DatasetError(f"{dest} already holds a dataset; choose another destination, or pass --force to replace it")
    if dest.is_dir() and any(dest.iterdir()) and not force:
        raise DatasetError(f"{dest} is not empty; choose a new or empty folder, or pass --force to write into it")
    skipped: list[str] = []
    imported = IMPORTERS[kind](src, skipped=skipped, **options)
    class_names, items, multi_label = imported.class_names, list(imported.items), imported.multi_label
    if not items:
        raise DatasetError(f"no images found in {src} for kind {kind!r}; check the source layout")
    channels = 1 if items[0][1].ndim == 2 else 3
    sources = source_of_each_image([stem for stem, *_ in items], source_pattern) if source_pattern else {}
    count = write_dataset(dest, name or dest.name, class_names, items, channels, f"{kind}:{src}", multi_label)
    if sources:
        write_sources(dest, sources)
    return {
        "count": count,
        "classes": class_names,
        "skipped": skipped,
        "multi_label": multi_label,
        "sources": sorted(set(sources.values())),
    }
