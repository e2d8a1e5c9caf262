"""Writing the project's dataset format::

dataset.yaml        name, channels, source, classes: [{name, value}]
images/<stem>.png   8-bit grayscale or RGB
masks/<stem>.png    8-bit; pixel value = the class's ``value``
"""

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from trainables.data import MANIFEST, DatasetClass, Manifest


def write_dataset(
    dest: Path,
    name: str,
    class_names: list[str],
    items: Iterable[tuple[str, np.ndarray, np.ndarray]],
    channels: int,
    source: str,
) -> int:
    """Write (stem, image, class-index mask) items; returns how many were written."""
    dest = Path(dest)
    (dest / "images").mkdir(parents=True, exist_ok=True)
    (dest / "masks").mkdir(parents=True, exist_ok=True)
    count = 0
    for stem, image, mask in items:
        Image.fromarray(image).save(dest / "images" / f"{stem}.png")
        Image.fromarray(mask.astype(np.uint8)).save(dest / "masks" / f"{stem}.png")
        count += 1
    classes = tuple(DatasetClass(class_name, index) for index, class_name in enumerate(class_names))
    (dest / MANIFEST).write_text(Manifest(name, channels, source, classes).to_yaml())
    return count
