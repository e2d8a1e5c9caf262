"""Dice, Jaccard and focal losses computed as segmentation-models-pytorch 0.6 computes them.

The same operations as its ``DiceLoss``, ``JaccardLoss`` and ``FocalLoss`` with the settings the
losses here use (from logits, no smoothing, eps 1e-7, mean reduction), without importing smp: its
package loads timm, torchvision and torch._dynamo, about 1.9 CPU-seconds in every trial's fresh
worker whose model is not an smp one. tests/trainables/test_losses.py checks each against smp's.
"""

import torch
from torch.nn import functional as F

EPS = 1e-7  # smp's: the least a score's denominator can be
DICE_FP_FN_WEIGHT, JACCARD_FP_FN_WEIGHT = 0.5, 1.0  # the Tversky score's alpha = beta for each
SPATIAL_AND_BATCH = (0, 2)  # scores over (batch, pixels): one per class, as smp's


def _tversky_score(probs: torch.Tensor, target: torch.Tensor, weight: float) -> torch.Tensor:
    """smp's soft_tversky_score with alpha = beta = weight, smooth 0: one score per class."""
    output_sum = torch.sum(probs, dim=SPATIAL_AND_BATCH)
    target_sum = torch.sum(target, dim=SPATIAL_AND_BATCH)
    difference = torch.linalg.vector_norm(probs - target, ord=1, dim=SPATIAL_AND_BATCH)
    intersection = (output_sum + target_sum - difference) / 2
    false_positives, false_negatives = output_sum - intersection, target_sum - intersection
    return intersection / (intersection + weight * false_positives + weight * false_negatives).clamp_min(EPS)


def _region_loss(probs: torch.Tensor, target: torch.Tensor, weight: float) -> torch.Tensor:
    """1 - score per class, a class with no target pixel counting 0 (smp: the score is undefined), averaged."""
    loss = 1.0 - _tversky_score(probs, target.type_as(probs), weight)
    loss = loss * (target.sum(SPATIAL_AND_BATCH) > 0).to(loss.dtype)
    return loss.mean()


def _softmax_and_one_hot(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    batch, classes = logits.shape[:2]
    probs = logits.log_softmax(dim=1).exp().reshape(batch, classes, -1)  # log-exp: smp's, stabler near 0 and 1
    one_hot = F.one_hot(target.reshape(batch, -1), classes).permute(0, 2, 1)
    return probs, one_hot


def _sigmoid_per_channel(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    batch, channels = logits.shape[:2]
    probs = F.logsigmoid(logits).exp().reshape(batch, channels, -1)
    return probs, target.reshape(batch, channels, -1)


def multiclass_dice(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """smp DiceLoss("multiclass"): logits (N, C, H, W), class indices (N, H, W)."""
    return _region_loss(*_softmax_and_one_hot(logits, target), DICE_FP_FN_WEIGHT)


def multiclass_jaccard(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """smp JaccardLoss("multiclass"): logits (N, C, H, W), class indices (N, H, W)."""
    return _region_loss(*_softmax_and_one_hot(logits, target), JACCARD_FP_FN_WEIGHT)


def sigmoid_dice(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """smp DiceLoss("binary") for one channel, DiceLoss("multilabel") for several: each channel's
    sigmoid against its own 0/1 mask, target shaped as the logits."""
    return _region_loss(*_sigmoid_per_channel(logits, target), DICE_FP_FN_WEIGHT)


def binary_focal(logit: torch.Tensor, target: torch.Tensor, gamma: float, alpha: float | None) -> torch.Tensor:
    """smp focal_loss_with_logits, mean over every element: (1 - p_t)^gamma * BCE, times alpha on the
    positives and 1 - alpha on the negatives when alpha is given."""
    target = target.to(dtype=logit.dtype)
    log_p_t = F.binary_cross_entropy_with_logits(logit, target, reduction="none")
    loss = (1.0 - torch.exp(-log_p_t)).pow(gamma) * log_p_t
    if alpha is not None:
        loss = loss * (alpha * target + (1 - alpha) * (1 - target))
    return loss.mean()


def multiclass_focal(logits: torch.Tensor, target: torch.Tensor, gamma: float) -> torch.Tensor:
    """smp FocalLoss("multiclass"): each class's own logit (a sigmoid, not the softmax) against its
    one-vs-rest mask, no alpha, the classes' losses averaged."""
    per_class = [
        binary_focal(logits[:, index], (target == index).long(), gamma, None) for index in range(logits.shape[1])
    ]
    return torch.stack(per_class).mean()
