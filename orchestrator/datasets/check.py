"""Finding broken data before any trial starts, with the offending files listed."""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from orchestrator.errors import UserError
from trainables.data import MANIFEST, Manifest, read_manifest


class DatasetError(UserError):
    """Broken data; the message lists the first offending files and their count."""


def offenders(problem: str, files: list, fix: str) -> DatasetError:
    shown = ", ".join(str(f) for f in files[:3])
    more = f" and {len(files) - 3} more" if len(files) > 3 else ""
    return DatasetError(f"{problem} ({len(files)} file(s)): {shown}{more}; {fix}")


@dataclass
class DatasetInfo:
    path: Path
    manifest: Manifest
    stems: list[str] = field(default_factory=list)
    sizes: set = field(default_factory=set)


def read_image(path: Path, mode: str | None = None) -> np.ndarray:
    """The image's pixels; a missing, truncated or unreadable file is a ``DatasetError`` naming it."""
    try:
        with Image.open(path) as image:
            image.load()  # raises on a truncated file
            return np.asarray(image.convert(mode) if mode else image)
    except FileNotFoundError:
        raise DatasetError(f"{path} is missing; every image needs its mask (or remove the image)") from None
    except OSError as error:  # PIL's truncated and unidentified files
        raise DatasetError(f"{path} cannot be read ({error}); replace the file or remove it") from None


def _bit_combinations(root: Path, manifest: Manifest) -> set[int]:
    """A multi-label manifest's allowed mask values: every sum of its foreground classes' bits."""
    bits = [cls.value for cls in manifest.classes[1:]]
    if manifest.classes[0].value != 0 or any(bit <= 0 or bit & (bit - 1) for bit in bits):
        raise DatasetError(
            f"{root / MANIFEST}: a multi_label dataset needs background = 0 and one bit (1, 2, 4, ...) per class"
        )
    union = sum(set(bits))
    return {value for value in range(256) if value & ~union == 0}


def check_dataset(path: str | Path) -> DatasetInfo:
    """Check a dataset folder completely (every image and mask is read)."""
    root = Path(path)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist; import one with `orchestrate datasets import`")
    if not (root / MANIFEST).is_file():
        raise DatasetError(f"{root / MANIFEST} is missing; a dataset folder needs a manifest (see README, Datasets)")
    try:
        manifest = read_manifest(root)
    except (yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise DatasetError(f"{root / MANIFEST} cannot be read ({error}); fix it (see README, Datasets)") from None
    values = {cls.value for cls in manifest.classes}
    if len(values) < 2:
        raise DatasetError(f"{root / MANIFEST} lists {len(values)} class(es); it needs at least 2 with distinct values")
    if manifest.multi_label:
        values = _bit_combinations(root, manifest)
    images = sorted((root / "images").glob("*.png"))
    if not images:
        raise DatasetError(f"dataset {root} is empty: no PNG images in {root / 'images'}; import or add images")
    missing = [p.name for p in images if not (root / "masks" / p.name).is_file()]
    if missing:
        raise offenders(f"images without a mask in {root / 'masks'}", missing, "add the masks or remove the images")
    unreadable, mismatched, bad_values, sizes = [], [], [], set()
    for image_path in images:
        mask_path = root / "masks" / image_path.name
        try:
            image, mask = read_image(image_path), read_image(mask_path, "L")
        except Exception:  # PIL raises several types for broken files
            unreadable.append(image_path.name)
            continue
        if image.shape[:2] != mask.shape:
            mismatched.append(
                f"{image_path.name} ({image.shape[1]}x{image.shape[0]} vs {mask.shape[1]}x{mask.shape[0]})"
            )
        unknown = set(np.unique(mask).tolist()) - values
        if unknown:
            bad_values.append(f"{image_path.name} {sorted(unknown)[:3]}")
        sizes.add(image.shape[:2])
    if unreadable:
        raise offenders("unreadable or truncated image/mask files", unreadable, "re-export or remove them")
    if mismatched:
        raise offenders("image and mask sizes differ", mismatched, "fix the masks")
    if bad_values:
        raise offenders(
            f"mask values not in the class map {sorted(values)}",
            bad_values,
            f"fix the masks or the classes in {MANIFEST}",
        )
    return DatasetInfo(root, manifest, [p.stem for p in images], sizes)
