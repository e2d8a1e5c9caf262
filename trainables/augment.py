"""Named augmentation policies (albumentations), applied to image and mask together.

* ``none``
* ``flips``: horizontal and vertical flips
* ``two_of_list``: two transforms drawn at random per image from the list the
  crack papers used (flip, rotate, brightness-contrast, shift-scale-rotate,
  affine, multiplicative noise, gamma, downscale, hue-saturation, CLAHE,
  channel dropout, coarse dropout, colour jitter, gaussian blur, median blur,
  grid dropout, mask dropout); colour-only ones are left out for grayscale
* ``geometric``: the EM thesis's spatial transforms (004 §3.4): vertical and
  horizontal flip, RandomRotate90, Transpose, Resize and GridDistortion, each
  with albumentations' default p = 0.5
"""

import os
from collections.abc import Callable

# albumentations asks pypi.org for a newer version when imported (up to a 2 s timeout): a request from
# every trial's worker, on nodes that may have no network at all. Trials never reach the network.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A  # noqa: E402
import cv2  # noqa: E402

from .policy_names import POLICIES  # noqa: E402


def _flips(channels: int) -> list[A.BasicTransform]:
    return [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5)]


def _geometric(channels: int) -> list[A.BasicTransform]:
    # 004 §3.4 lists six spatial transforms "with probability 0.5 by default". Its Resize is to the
    # training size, which our tiles already have, so it is the identity here and left out.
    return [
        A.VerticalFlip(p=0.5),
        A.HorizontalFlip(p=0.5),
        A.RandomRotate90(p=0.5),
        A.Transpose(p=0.5),
        A.GridDistortion(p=0.5, border_mode=cv2.BORDER_REFLECT_101),
    ]


def _two_of_list(channels: int) -> list[A.BasicTransform]:
    # 002 §3: two augmentations drawn at random from this list, applied one after the other.
    candidates = [
        A.HorizontalFlip(p=1),
        A.Rotate(limit=30, p=1, border_mode=cv2.BORDER_REFLECT_101),
        A.RandomBrightnessContrast(p=1),
        # shift-scale-rotate (albumentations now spells it as an Affine)
        A.Affine(
            translate_percent=(-0.06, 0.06), scale=(0.9, 1.1), rotate=(-45, 45), border_mode=cv2.BORDER_REFLECT_101, p=1
        ),
        A.Affine(shear=(-10, 10), scale=(0.9, 1.1), translate_percent=(-0.05, 0.05), p=1),
        A.MultiplicativeNoise(p=1),
        A.RandomGamma(p=1),
        A.Downscale(scale_range=(0.5, 0.9), p=1),
        A.CLAHE(p=1),
        A.CoarseDropout(p=1),
        A.GaussianBlur(p=1),
        A.MedianBlur(blur_limit=3, p=1),
        A.GridDropout(p=1),
        A.MaskDropout(max_objects=1, p=1),
    ]
    if channels == 3:
        candidates += [A.HueSaturationValue(p=1), A.ChannelDropout(p=1), A.ColorJitter(p=1)]
    return [A.SomeOf(candidates, n=2, p=1)]


_TRANSFORMS: dict[str, Callable[[int], list[A.BasicTransform]]] = {
    "none": lambda channels: [],
    "flips": _flips,
    "two_of_list": _two_of_list,
    "geometric": _geometric,
}
if tuple(_TRANSFORMS) != POLICIES:  # policy_names lists them for the spec checks, which skip albumentations
    raise ImportError(f"trainables.policy_names.POLICIES {POLICIES} must name the policies here: {tuple(_TRANSFORMS)}")


def build_policy(name: str, channels: int) -> A.Compose | None:
    """The named policy for images with ``channels`` channels; None for ``none``."""
    if name not in _TRANSFORMS:
        raise ValueError(f"unknown augmentation policy {name!r}; use one of {', '.join(POLICIES)}")
    transforms = _TRANSFORMS[name](channels)
    return A.Compose(transforms) if transforms else None
