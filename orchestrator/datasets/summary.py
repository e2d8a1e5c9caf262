"""`orchestrate datasets show`: counts, sizes and class pixel frequencies."""

from pathlib import Path

import numpy as np

from orchestrator.datasets.check import check_dataset, read_image


def summarize(path: str | Path) -> dict:
    info = check_dataset(path)
    classes = info.manifest.classes
    pixels = np.zeros(256, np.int64)
    for stem in info.stems:
        pixels += np.bincount(read_image(info.path / "masks" / f"{stem}.png", "L").ravel(), minlength=256)
    total = pixels.sum()
    return {
        "name": info.manifest.name,
        "path": str(info.path),
        "images": len(info.stems),
        "channels": info.manifest.channels,
        "sizes": sorted(f"{w}x{h}" for h, w in info.sizes),
        "classes": [
            {"name": c.name, "value": c.value, "pixels": int(pixels[c.value]), "fraction": pixels[c.value] / total}
            for c in classes
        ],
    }
