"""Losses, selectable by name and combinable as weighted sums; deep supervision wraps any of them.

Names: ``ce`` (cross-entropy), ``bce`` (BCE-with-logits, binary tasks: the
logit is class 1 minus class 0), ``dice``, ``jaccard``, ``focal`` (γ set by
``focal_gamma``), ``binary_focal`` (binary tasks, no class weight) and
``binary_focal_dice`` (binary focal with α = 0.25, + Dice). Only the binary
losses train a ``sigmoid`` output head; a ``multilabel`` head trains with
``bce`` and ``dice``, each class's channel against its own mask (003 §5.1.3).
A spec gives one
name, names joined by ``+`` (equal weights: ``ce+dice``), or a mapping
name -> weight, e.g. ``{ce: 0.3, dice: 0.7}``. Dice, Jaccard
and focal are segmentation-models-pytorch's, computed in region_losses.py without importing it.
"""

from collections.abc import Callable

import torch
from torch.nn import functional as F

from . import region_losses
from .loss_names import LOSSES, MULTILABEL_LOSSES, loss_weights

BINARY_FOCAL_ALPHA = 0.25  # the weight of the positive class in the binary focal loss
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _binary_logit(logits: torch.Tensor) -> torch.Tensor:
    """The foreground logit: a sigmoid head's one channel, or class 1 minus class 0 of a 2-class softmax
    (the same model)."""
    if logits.shape[1] == 1:
        return logits[:, 0]
    if logits.shape[1] != 2:
        raise ValueError(f"a binary loss needs 2 classes, got {logits.shape[1]}")
    return logits[:, 1] - logits[:, 0]


def _single(name: str, focal_gamma: float) -> LossFn:
    if name == "ce":
        return F.cross_entropy
    if name == "bce":
        return lambda logits, target: F.binary_cross_entropy_with_logits(_binary_logit(logits), target.float())
    if name == "dice":
        return region_losses.multiclass_dice
    if name == "jaccard":
        return region_losses.multiclass_jaccard
    if name == "focal":
        return lambda logits, target: region_losses.multiclass_focal(logits, target, focal_gamma)
    if name == "binary_focal":
        # 004 §3.5.2: "binary focal loss" on the 1-channel sigmoid output; it names no class weight,
        # so none (alpha None), with focal_gamma (2 by default, the focal loss paper's value, 004 [13]).
        return lambda logits, target: region_losses.binary_focal(_binary_logit(logits), target, focal_gamma, None)
    if name == "binary_focal_dice":
        # 002 §1 and its reference [15] (segmentation_models' binary_focal_dice_loss): binary focal
        # loss with alpha = 0.25 on the defects (0.75 on the background) plus Dice, equal weights.
        def binary_focal_dice(logits, target):
            logit = _binary_logit(logits)
            focal = region_losses.binary_focal(logit, target, focal_gamma, BINARY_FOCAL_ALPHA)
            return focal + region_losses.sigmoid_dice(logit[:, None], target[:, None])

        return binary_focal_dice
    raise ValueError(f"unknown loss {name!r}; use one of {', '.join(LOSSES)} or a mapping of them to weights")


def _multilabel(name: str) -> LossFn:
    """A loss over a multilabel head's channels, the bit-mask target split into one 0/1 mask per channel."""
    from .labels import to_channels

    if name == "bce":  # 003 §5.1.3: binary cross-entropy on each of the four sigmoid masks
        return lambda logits, target: F.binary_cross_entropy_with_logits(
            logits, to_channels(target, logits.shape[1]).float()
        )
    if name == "dice":
        return lambda logits, target: region_losses.sigmoid_dice(logits, to_channels(target, logits.shape[1]))
    raise ValueError(f"a multilabel head trains with {' or '.join(MULTILABEL_LOSSES)}, not {name!r}")


def build_loss(spec: str | dict[str, float] = "ce", focal_gamma: float = 2.0, multi_label: bool = False) -> LossFn:
    weights = loss_weights(spec)
    parts = [
        (weight, _multilabel(name) if multi_label else _single(name, focal_gamma)) for name, weight in weights.items()
    ]
    if len(parts) == 1 and parts[0][0] == 1.0:
        return parts[0][1]
    return lambda logits, target: sum(weight * fn(logits, target) for weight, fn in parts)


def segmentation_loss(
    output, target: torch.Tensor, ds_lambda: float = 0.0, loss: LossFn = F.cross_entropy
) -> torch.Tensor:
    if isinstance(output, tuple):
        final, aux = output
        return (1 - ds_lambda) * loss(final, target) + ds_lambda * loss(aux, target)
    return loss(output, target)
