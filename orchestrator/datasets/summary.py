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
        **_header(info),
        "classes": [
            {"name": c.name, "value": c.value, "pixels": count, "fraction": count / total}
            for c, count in zip(classes, _class_pixels(pixels, info.manifest), strict=True)
        ],
    }


def _class_pixels(value_counts: np.ndarray, manifest) -> list[int]:
    """Pixels of each class; multi-label: every pixel whose bit mask holds the class (overlaps count twice)."""
    if not manifest.multi_label:
        return [int(value_counts[c.value]) for c in manifest.classes]
    values = np.arange(256)
    return [
        int(value_counts[values == 0].sum() if c.value == 0 else value_counts[(values & c.value) != 0].sum())
        for c in manifest.classes
    ]


def _header(info) -> dict:
    return {
        "name": info.manifest.name,
        "path": str(info.path),
        "images": len(info.stems),
        "channels": info.manifest.channels,
        "sizes": sorted(f"{w}x{h}" for h, w in info.sizes),
        "multi_label": info.manifest.multi_label,
    }
