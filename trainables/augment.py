"""Named augmentation policies (albumentations), applied to image and mask together.

* ``none``
* ``flips``: horizontal and vertical flips
* ``two_of_list``: two transforms drawn at random per image from the list the
  crack papers used (flip, rotate, brightness-contrast, shift-scale-rotate,
  affine, multiplicative noise, gamma, downscale, hue-saturation, CLAHE,
  channel dropout, coarse dropout, colour jitter, gaussian blur, median blur,
  grid dropout, mask dropout); colour-only ones are left out for grayscale
* ``geometric``: RandomRotate90, Transpose, GridDistortion
"""

import albumentations as A
import cv2

POLICIES = ("none", "flips", "two_of_list", "geometric")


def build_policy(name: str, channels: int) -> A.Compose | None:
    if name == "none":
        return None
    if name == "flips":
        transforms = [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5)]
    elif name == "geometric":
        transforms = [
            A.RandomRotate90(p=0.5),
            A.Transpose(p=0.5),
            A.GridDistortion(p=0.3, border_mode=cv2.BORDER_REFLECT_101),
        ]
    elif name == "two_of_list":
        candidates = [
            A.HorizontalFlip(p=1),
            A.Rotate(limit=30, p=1, border_mode=cv2.BORDER_REFLECT_101),
            A.RandomBrightnessContrast(p=1),
            # shift-scale-rotate (albumentations now spells it as an Affine)
            A.Affine(
                translate_percent=(-0.06, 0.06),
                scale=(0.9, 1.1),
                rotate=(-45, 45),
                border_mode=cv2.BORDER_REFLECT_101,
                p=1,
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
        transforms = [A.SomeOf(candidates, n=2, p=1)]
    else:
        raise ValueError(f"unknown augmentation policy {name!r}; use one of {', '.join(POLICIES)}")
    return A.Compose(transforms)
