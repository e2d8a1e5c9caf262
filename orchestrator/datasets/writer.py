"""Writing the project's dataset format::

dataset.yaml        name, channels, source, classes: [{name, value}]
images/<stem>.png   8-bit grayscale or RGB
masks/<stem>.png    8-bit; pixel value = the class's ``value``; multi-label: the sum of the
                    values (bits) of every class at the pixel
sources.csv         optional: stem,source
"""

import csv
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from trainables.data import MANIFEST, SOURCES, DatasetClass, Manifest
from trainables.labels import bit_values


def write_dataset(
    dest: Path,
    name: str,
    class_names: list[str],
    items: Iterable[tuple[str, np.ndarray, np.ndarray]],
    channels: int,
    source: str,
    multi_label: bool = False,
) -> int:
    """Write (stem, image, mask) items; returns how many were written. Masks hold class indices, or for
    ``multi_label`` bit masks (class i >= 1 at bit i - 1, its value 2**(i - 1))."""
    dest = Path(dest)
    (dest / "images").mkdir(parents=True, exist_ok=True)
    (dest / "masks").mkdir(parents=True, exist_ok=True)
    count = 0
    for stem, image, mask in items:
        Image.fromarray(image).save(dest / "images" / f"{stem}.png")
        Image.fromarray(mask.astype(np.uint8)).save(dest / "masks" / f"{stem}.png")
        count += 1
    values = [0, *bit_values(len(class_names) - 1)] if multi_label else range(len(class_names))
    classes = tuple(DatasetClass(class_name, value) for class_name, value in zip(class_names, values, strict=True))
    (dest / MANIFEST).write_text(Manifest(name, channels, source, classes, multi_label).to_yaml())
    return count


def write_sources(dest: Path, sources: dict[str, str]) -> None:
    """The source dataset of each image (stem -> source name)."""
    with open(Path(dest) / SOURCES, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["stem", "source"])
        writer.writerows(sorted(sources.items()))
