"""Writing the project's dataset format::

    dataset.yaml        name, channels, source, classes: [{name, value}], splits (optional)
    images/<stem>.png   8-bit grayscale or RGB
    masks/<stem>.png    8-bit; pixel value = the class's ``value``
"""

from pathlib import Path
from typing import Iterable

import numpy as np
import yaml
from PIL import Image

from trainables.data import MANIFEST


def write_dataset(
    dest: Path,
    name: str,
    class_names: list[str],
    items: Iterable[tuple[str, np.ndarray, np.ndarray]],
    channels: int,
    source: str,
    splits: dict[str, list[str]] | None = None,
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
    manifest = {
        "name": name,
        "channels": channels,
        "source": source,
        "classes": [{"name": class_name, "value": index} for index, class_name in enumerate(class_names)],
    }
    if splits:
        manifest["splits"] = splits
    (dest / MANIFEST).write_text(yaml.safe_dump(manifest, sort_keys=False))
    return count
