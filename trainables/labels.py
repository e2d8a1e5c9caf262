"""Multi-label masks: several classes may cover one pixel (003 §5.1.3: a Severstal image has four
independent defect masks, and defects may overlap).

A multi-label mask is one uint8 image whose bit ``i - 1`` marks class ``i``;
class 0 ("background") is the pixels with no bit set. One image, so resizing,
tiling and geometric augmentation (nearest-neighbour on masks) treat it like
any class-index mask.
"""

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the tensor helpers import it themselves: data files are read without torch
    import torch

MAX_LABELS = 8  # bits of a uint8 mask


def bit_values(types: int) -> list[int]:
    """The mask value of each of ``types`` foreground classes (1, 2, 4, ...)."""
    if types > MAX_LABELS:
        raise ValueError(f"a multi-label mask holds at most {MAX_LABELS} classes, not {types}")
    return [1 << i for i in range(types)]


def to_channels(mask: "torch.Tensor", types: int) -> "torch.Tensor":
    """(N, H, W) bit masks -> (N, types, H, W) 0/1 tensors, one channel per foreground class."""
    import torch

    shifts = torch.arange(types, device=mask.device).view(1, types, 1, 1)
    return (mask.long().unsqueeze(1) >> shifts) & 1


def from_channels(flags: "torch.Tensor") -> "torch.Tensor":
    """(N, types, H, W) booleans -> (N, H, W) bit masks (int64)."""
    import torch

    weights = (1 << torch.arange(flags.shape[1], device=flags.device)).view(1, -1, 1, 1)
    return (flags.long() * weights).sum(1)


def has_class(mask, cls: int, multi_label: bool):
    """Where class ``cls`` is in a class-index mask, or in a bit mask (class 0: no bit set)."""
    if not multi_label:
        return mask == cls
    if cls == 0:
        return mask == 0
    return (mask >> (cls - 1)) & 1 == 1


def normalising_lookup(values: list[int]) -> np.ndarray:
    """Stored mask value -> bit mask with class ``i`` (``values[i]``, i >= 1) at bit ``i - 1``."""
    lookup = np.zeros(256, np.uint8)
    stored = np.arange(256)
    for index, value in enumerate(values[1:]):
        lookup |= (((stored & value) != 0) << index).astype(np.uint8)
    return lookup
