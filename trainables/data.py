"""Datasets a trial trains on: generated synthetic data, or a dataset folder.

A dataset folder is the project's on-disk format::

    dataset.yaml      name, channels, classes: [{name, value}, ...]
    images/<stem>.png
    masks/<stem>.png  pixel values are the classes' ``value``s; with ``multi_label: true``
                      a bit mask: each foreground class's value is one bit, and
                      classes may overlap (see ``labels``)
    sources.csv       optional: stem,source - which published dataset each image is from

Synthetic data is generated inside the trial from its seed (each image from
its own index), so it needs no shared file system on a cluster.

The split (lists of source stems) comes from the driver; images are resized,
then tiled, after splitting, so the tiles of one image never cross splits.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import yaml

from .config import DataSource, DataSplit
from .labels import bit_values, normalising_lookup

if TYPE_CHECKING:  # torch loads in the trial's worker; the study's drivers read files and manifests only
    import torch

MANIFEST = "dataset.yaml"
SOURCES = "sources.csv"  # optional: stem,source - the published dataset each image came from (002 Table 2)
DILATIONS = (3, 5, 8)  # stochastic width: each mask dilated by these, incrementally


def synthetic_image(shape: str, index: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One seeded synthetic image (uint8) and its exact mask: cell-like blobs, crack-like lines, or
    overlapping defects (a multi-label bit mask)."""
    rng = np.random.default_rng([seed, index])
    mask = np.zeros((size, size), np.uint8)
    if shape == "cells":
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        for _ in range(rng.integers(3, 9)):
            cy, cx = rng.uniform(0, size, 2)
            ry, rx = rng.uniform(size / 16, size / 6, 2)
            mask[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0] = 1
        signal = 0.3 + 0.35 * mask
    elif shape == "cracks":
        points = np.cumsum(rng.normal(0, size / 10, (8, 2)), axis=0) + rng.uniform(0, size, 2)
        cv2.polylines(mask, [points.astype(np.int32)], False, 1, thickness=int(rng.integers(1, 4)))
        signal = 0.6 - 0.35 * mask
    elif shape == "defects":
        mask, signal = _synthetic_defects(rng, size)
    else:
        raise ValueError(f"unknown synthetic shape {shape!r}; use cells, cracks or defects")
    image = np.clip(signal + rng.normal(0, 0.12, (size, size)), 0, 1)
    return (image * 255).astype(np.uint8), mask


SYNTHETIC_DEFECT_TYPES = 4  # a stand-in for Severstal's four defect types (003 §5.1)


def _synthetic_defects(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A multi-label bit mask of up to four overlapping defect types on a plain surface, each type with
    its own shape and brightness: spots, scratches, patches, stains."""
    mask = np.zeros((size, size), np.uint8)
    signal = np.full((size, size), 0.5, np.float32)
    for index, (bit, shade) in enumerate(zip(bit_values(SYNTHETIC_DEFECT_TYPES), (-0.3, 0.3, -0.2, 0.2), strict=True)):
        if rng.random() < 0.4:
            continue  # this type is absent from the image
        layer = np.zeros((size, size), np.uint8)
        centre = tuple(int(c) for c in rng.integers(0, size, 2))
        if index == 0:
            cv2.circle(layer, centre, max(1, size // 24), 1, -1)
        elif index == 1:
            cv2.line(layer, centre, (centre[0] + size // 3, centre[1] + size // 6), 1, 2)
        elif index == 2:
            cv2.rectangle(layer, centre, (centre[0] + size // 5, centre[1] + size // 8), 1, -1)
        else:
            cv2.ellipse(layer, centre, (size // 5, size // 9), 30, 0, 360, 1, -1)
        mask |= layer * bit
        signal += shade * layer
    return mask, signal


@dataclass(frozen=True)
class DatasetClass:
    name: str
    value: int  # the pixel value of this class in the masks


@dataclass(frozen=True)
class Manifest:
    """A dataset folder's ``dataset.yaml``."""

    name: str
    channels: int
    source: str
    classes: tuple[DatasetClass, ...]
    multi_label: bool = False  # masks are bit masks: foreground classes may overlap

    @property
    def class_names(self) -> list[str]:
        return [cls.name for cls in self.classes]

    def to_yaml(self) -> str:
        classes = [{"name": cls.name, "value": cls.value} for cls in self.classes]
        data = {"name": self.name, "channels": self.channels, "source": self.source, "classes": classes}
        if self.multi_label:
            data["multi_label"] = True
        return yaml.safe_dump(data, sort_keys=False)

    def mask_lookup(self) -> np.ndarray:
        """Stored mask value -> class index, or -> bit mask with class i at bit i - 1 (multi-label)."""
        if self.multi_label:
            return normalising_lookup([cls.value for cls in self.classes])
        lookup = np.zeros(256, np.uint8)
        for index, cls in enumerate(self.classes):
            lookup[cls.value] = index
        return lookup


def read_manifest(folder: str | Path) -> Manifest:
    """The manifest of a dataset folder (the one reader of ``dataset.yaml``)."""
    data = yaml.safe_load((Path(folder) / MANIFEST).read_text()) or {}
    classes = tuple(DatasetClass(str(c["name"]), int(c["value"])) for c in data.get("classes") or [])
    return Manifest(
        str(data.get("name", Path(folder).name)),
        int(data.get("channels", 1)),
        str(data.get("source", "")),
        classes,
        bool(data.get("multi_label", False)),
    )


def class_names_of(source: DataSource) -> list[str]:
    """Class names without loading the images (the driver uses this to build schemas)."""
    if source.kind == "synthetic":
        if source.shape == "defects":
            return ["background", *(f"class_{i + 1}" for i in range(SYNTHETIC_DEFECT_TYPES))]
        return ["background", "crack" if source.shape == "cracks" else "cell"]
    return read_manifest(source.path).class_names


def is_multi_label(source: DataSource) -> bool:
    """Whether the source's masks are bit masks of possibly overlapping classes."""
    if source.kind == "synthetic":
        return source.shape == "defects"
    return read_manifest(source.path).multi_label


def image_sources(source: DataSource) -> dict[str, str]:
    """Stem -> the source dataset each image came from, where the dataset folder records it (else empty)."""
    if source.kind == "synthetic" or not (Path(source.path) / SOURCES).is_file():
        return {}
    import csv

    with open(Path(source.path) / SOURCES, newline="") as f:
        return {row["stem"]: row["source"] for row in csv.DictReader(f)}


def source_names(source: DataSource) -> list[str]:
    return sorted(set(image_sources(source).values()))


def source_stems(source: DataSource) -> list[str]:
    if source.kind == "synthetic":
        return [f"{i:05d}" for i in range(source.num_images)]
    return sorted(p.stem for p in (Path(source.path) / "images").glob("*.png"))


def load_pairs(source: DataSource, stems: Sequence[str], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image HxW or HxWx3 uint8, mask HxW uint8: class indices, or bits for multi-label) for each stem;
    ``seed`` generates synthetic data."""
    if source.kind == "synthetic":
        return [synthetic_image(source.shape, int(s), source.image_size, seed) for s in stems]
    from PIL import Image

    root = Path(source.path)
    manifest = read_manifest(root)
    lookup = manifest.mask_lookup()
    mode = "L" if manifest.channels == 1 else "RGB"
    pairs = []
    for stem in stems:
        with Image.open(root / "images" / f"{stem}.png") as image, Image.open(root / "masks" / f"{stem}.png") as mask:
            pairs.append((np.asarray(image.convert(mode)), lookup[np.asarray(mask.convert("L"))]))
    return pairs


def resize_and_tile(pairs, resize: Sequence[int] | None, tile: int | None):
    out = []
    for image, mask in pairs:
        if resize:
            height, width = resize
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
            mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
        if not tile:
            out.append((image, mask))
            continue
        for top in range(0, mask.shape[0] - tile + 1, tile):
            for left in range(0, mask.shape[1] - tile + 1, tile):
                out.append((image[top : top + tile, left : left + tile], mask[top : top + tile, left : left + tile]))
    return out


def convert_channels(image: np.ndarray, channels: int | None) -> np.ndarray:
    if channels == 3 and image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)  # grayscale for RGB encoders (smp)
    if channels == 1 and image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return image


def stochastic_width(pairs):
    """Pandey & Achara (CoreDeep): each mask also dilated 3x3, then 5x5, then 8x8, incrementally."""
    out = []
    for image, mask in pairs:
        out.append((image, mask))
        grown = mask
        for size in DILATIONS:
            grown = cv2.dilate(grown, np.ones((size, size), np.uint8))
            out.append((image, grown))
    return out


def image_to_tensor(image: np.ndarray) -> "torch.Tensor":
    """uint8 HxW or HxWxC -> float CxHxW in [0, 1] (the one conversion training and evaluation share)."""
    import torch

    tensor = torch.from_numpy(image.astype(np.float32)).div_(255)  # astype copies: a writable array
    return tensor[None] if tensor.ndim == 2 else tensor.permute(2, 0, 1)


class SegmentationDataset:
    """uint8 image/mask pairs -> (float CxHxW in [0, 1], int64 HxW), augmented together: a map-style
    dataset for torch's DataLoader (which needs only ``__len__`` and ``__getitem__``)."""

    def __init__(self, pairs, augmentation: str = "none", channels: int = 1):
        self.pairs = pairs
        self.transform = None
        if augmentation != "none":  # albumentations takes seconds to import: a trial without augmentation skips it
            from .augment import build_policy

            self.transform = build_policy(augmentation, channels)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int):
        image, mask = self.pairs[index]
        if self.transform is not None:
            out = self.transform(image=image, mask=mask)
            image, mask = out["image"], out["mask"]
        import torch

        return image_to_tensor(image), torch.from_numpy(mask.astype(np.int64))


@dataclass
class LoadedDataset:
    class_names: list[str]
    train: SegmentationDataset
    val: SegmentationDataset
    in_channels: int


def load_tiles(source: DataSource, stems: Sequence[str], seed: int):
    """The model-ready (image, mask) pairs of these source images: resized, tiled, channels converted."""
    pairs = resize_and_tile(load_pairs(source, stems, seed), source.resize, source.tile)
    return [(convert_channels(image, source.channels), mask) for image, mask in pairs]


def load_dataset(
    source: DataSource, split: DataSplit, seed: int, augmentation: str = "none", widen: bool = False
) -> LoadedDataset:
    """The training and validation parts of a split; ``widen``: stochastic width on the training masks."""
    train, val = load_tiles(source, split.train, seed), load_tiles(source, split.val, seed)
    if widen:
        train = stochastic_width(train)
    channels = 1 if train[0][0].ndim == 2 else 3
    return LoadedDataset(
        class_names_of(source),
        SegmentationDataset(train, augmentation, channels),
        SegmentationDataset(val, "none", channels),
        channels,
    )
