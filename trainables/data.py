"""Datasets a trial trains on: generated synthetic data, or a dataset folder.

A dataset folder is the project's on-disk format::

    dataset.yaml      name, channels, classes: [{name, value}, ...]
    images/<stem>.png
    masks/<stem>.png  pixel values are the classes' ``value``s

Synthetic data is generated inside the trial from its seed, so it needs no
shared file system on a cluster.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

MANIFEST = "dataset.yaml"


@dataclass
class SplitData:
    images: torch.Tensor  # N x C x H x W, float32 in [0, 1]
    masks: torch.Tensor  # N x H x W, int64 class indices


@dataclass
class LoadedDataset:
    class_names: list[str]
    train: SplitData
    val: SplitData

    @property
    def in_channels(self) -> int:
        return self.train.images.shape[1]


def synthetic_cells(num_images: int, image_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell-like blobs on a noisy background, with exact masks (1 = cell)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:image_size, 0:image_size].astype(np.float32)
    images = np.empty((num_images, 1, image_size, image_size), np.float32)
    masks = np.zeros((num_images, image_size, image_size), np.int64)
    for i in range(num_images):
        for _ in range(rng.integers(3, 9)):
            cy, cx = rng.uniform(0, image_size, 2)
            ry, rx = rng.uniform(image_size / 16, image_size / 6, 2)
            masks[i][((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0] = 1
        texture = rng.normal(0, 0.12, (image_size, image_size))
        images[i, 0] = np.clip(0.3 + 0.35 * masks[i] + texture, 0, 1)
    return images, masks


def read_manifest(path: str | Path) -> dict[str, Any]:
    with open(Path(path) / MANIFEST) as f:
        return yaml.safe_load(f)


def load_folder(path: str | Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from PIL import Image

    root = Path(path)
    manifest = read_manifest(root)
    classes = manifest["classes"]
    lookup = np.full(256, -1, np.int64)
    for index, cls in enumerate(classes):
        lookup[int(cls["value"])] = index
    mode = "L" if int(manifest.get("channels", 1)) == 1 else "RGB"
    images, masks = [], []
    for image_path in sorted((root / "images").glob("*.png")):
        image = np.asarray(Image.open(image_path).convert(mode), np.float32) / 255.0
        images.append(image[None] if image.ndim == 2 else image.transpose(2, 0, 1))
        mask = lookup[np.asarray(Image.open(root / "masks" / image_path.name).convert("L"))]
        if (mask < 0).any():
            raise ValueError(f"{root / 'masks' / image_path.name}: mask value not in the class map of {MANIFEST}")
        masks.append(mask)
    return np.stack(images), np.stack(masks), [cls["name"] for cls in classes]


def split_indices(count: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(count)
    num_val = min(count - 1, max(1, round(count * val_fraction)))
    return np.sort(order[num_val:]), np.sort(order[:num_val])


def load_dataset(config: dict[str, Any]) -> LoadedDataset:
    if config["kind"] == "synthetic":
        images, masks = synthetic_cells(config["num_images"], config["image_size"], config["seed"])
        class_names = ["background", "cell"]
    else:
        images, masks, class_names = load_folder(config["path"])
    train_idx, val_idx = split_indices(len(images), config["val_fraction"], config["seed"])

    def subset(idx: np.ndarray) -> SplitData:
        return SplitData(torch.from_numpy(images[idx]), torch.from_numpy(masks[idx]))

    return LoadedDataset(class_names, subset(train_idx), subset(val_idx))


def dataset_class_names(config: dict[str, Any]) -> list[str]:
    """Class names without loading the images (used by the driver to build schemas)."""
    if config["kind"] == "synthetic":
        return ["background", "cell"]
    return [cls["name"] for cls in read_manifest(config["path"])["classes"]]
