"""Segmentation metrics, accumulated over a whole split from per-class confusion counts.

Never an average of batch averages. A class absent from both the truth and the
prediction has no IoU/Dice (NaN) and is left out of the means. Single-label
tasks count a (classes, classes) confusion matrix; multi-label tasks (bit
masks, see ``labels``) count one 2x2 matrix per class, (classes, 2, 2).
"""

import math
import operator

import torch

from .labels import has_class
from .metric_names import SWEEP_THRESHOLDS


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Rows are true classes, columns predicted classes."""
    index = target.reshape(-1) * num_classes + pred.reshape(-1)
    return torch.bincount(index, minlength=num_classes**2).reshape(num_classes, num_classes)


def multilabel_confusion(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Bit masks: per class, a 2x2 matrix [truth][prediction] (0 absent, 1 present); class 0 is "no bit set"."""
    matrices = []
    for cls in range(num_classes):
        truth, predicted = has_class(target.reshape(-1), cls, True), has_class(pred.reshape(-1), cls, True)
        matrices.append(torch.bincount(truth.long() * 2 + predicted.long(), minlength=4).reshape(2, 2))
    return torch.stack(matrices)


def label_confusion(pred: torch.Tensor, target: torch.Tensor, num_classes: int, multi_label: bool) -> torch.Tensor:
    """The confusion counts of either kind of mask."""
    return (multilabel_confusion if multi_label else confusion_matrix)(pred, target, num_classes)


def empty_confusion(num_classes: int, multi_label: bool) -> torch.Tensor:
    shape = (num_classes, 2, 2) if multi_label else (num_classes, num_classes)
    return torch.zeros(shape, dtype=torch.int64)


def _ratio(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    return torch.where(
        denominator > 0, numerator / denominator.clamp(min=1), torch.full_like(denominator, float("nan"))
    )


def _per_class(confusion: torch.Tensor) -> dict[str, torch.Tensor]:
    """IoU, Dice, precision and recall of each class (NaN where undefined)."""
    confusion = confusion.double()
    if confusion.ndim == 3:  # multi-label: each class's own 2x2 [truth][prediction]
        tp, predicted, actual = confusion[:, 1, 1], confusion[:, :, 1].sum(1), confusion[:, 1].sum(1)
    else:
        tp, predicted, actual = confusion.diag(), confusion.sum(0), confusion.sum(1)
    return {
        "iou": _ratio(tp, predicted + actual - tp),
        "dice": _ratio(2 * tp, predicted + actual),
        "precision": _ratio(tp, predicted),
        "recall": _ratio(tp, actual),
    }


def iou_per_class(confusion: torch.Tensor) -> torch.Tensor:
    """IoU of each class; NaN where the class is absent from both truth and prediction."""
    return _per_class(confusion)["iou"]


def mean_iou(confusion: torch.Tensor) -> float:
    return float(torch.nanmean(iou_per_class(confusion)))


def _nanmean(values: torch.Tensor) -> float:
    return float(torch.nanmean(values)) if values.numel() and not torch.isnan(values).all() else math.nan


def split_metrics(confusion: torch.Tensor, class_names: list[str], background: int | None = None) -> dict[str, float]:
    """Every metric of a split, from its confusion matrix, with flat names for reporting.

    ``miou`` and ``dice_mean`` average all classes; ``miou_fg`` and ``dice_mean_fg``
    leave out the background class (003 §5.2.1 reports the mean Dice over the defect
    classes only): index ``background``, by default the class named "background", else class 0.
    """
    if background is None:
        background = class_names.index("background") if "background" in class_names else 0
    confusion = confusion.double()
    per_class = _per_class(confusion)
    iou, dice = per_class["iou"], per_class["dice"]
    foreground = [i for i in range(len(class_names)) if i != background]
    metrics = {
        "miou": _nanmean(iou),
        "miou_fg": _nanmean(iou[foreground]),
        "dice_mean": _nanmean(dice),
        "dice_mean_fg": _nanmean(dice[foreground]),
        "precision_mean": _nanmean(per_class["precision"]),
        "recall_mean": _nanmean(per_class["recall"]),
        "pixel_accuracy": _pixel_accuracy(confusion, foreground),
    }
    for index, name in enumerate(class_names):
        metrics[f"iou_{name}"] = float(iou[index])
        metrics[f"dice_{name}"] = float(dice[index])
    return metrics


def _pixel_accuracy(confusion: torch.Tensor, foreground: list[int]) -> float:
    """The share of pixels labelled right; multi-label: the mean over foreground classes of each one's share."""
    if confusion.ndim == 3:
        per_class = confusion[foreground].diagonal(dim1=1, dim2=2).sum(1) / confusion[foreground].sum((1, 2))
        return _nanmean(per_class)
    total = confusion.sum()
    return float(confusion.diag().sum() / total) if total > 0 else math.nan


def crack_metrics(confusion: torch.Tensor, crack: int = 1) -> dict[str, float]:
    """CoreDeep conventions for a binary crack task (class ``crack`` vs background)."""
    background = 1 - crack
    per_class = _per_class(confusion)
    return {
        "crack_iou": float(per_class["iou"][crack]),
        "background_iou": float(per_class["iou"][background]),
        "crack_precision": float(per_class["precision"][crack]),
        "crack_recall": float(per_class["recall"][crack]),
        "crack_f1": float(per_class["dice"][crack]),
        "background_f1": float(per_class["dice"][background]),
    }


def per_source_crack_iou(per_image: list[tuple[str, torch.Tensor]], sources: dict[str, str]) -> dict[str, float]:
    """002 Table 2: the crack IoU over the held-out images of each source dataset (their pixels pooled),
    as ``crack_iou_<source>``; images without a recorded source are left out."""
    pooled: dict[str, torch.Tensor] = {}
    for stem, confusion in per_image:
        if stem in sources:
            pooled[sources[stem]] = pooled.get(sources[stem], 0) + confusion
    return {f"crack_iou_{name}": crack_metrics(confusion)["crack_iou"] for name, confusion in sorted(pooled.items())}


def image_level_errors(pred_masks, true_masks, crack: int = 1) -> dict[str, int]:
    """False positive image: no crack pixel in the truth but some predicted; false negative: the reverse."""
    false_positive = false_negative = 0
    for pred, true in zip(pred_masks, true_masks, strict=True):
        has_pred, has_true = bool((pred == crack).any()), bool((true == crack).any())
        false_positive += has_pred and not has_true
        false_negative += has_true and not has_pred
    return {"image_false_positives": false_positive, "image_false_negatives": false_negative}


def threshold_sweep(
    probabilities: torch.Tensor, target: torch.Tensor, thresholds=SWEEP_THRESHOLDS
) -> dict[float, float]:
    """Binary task: foreground IoU at each probability threshold (0.50 and 0.90 ... 0.98)."""
    return {t: float(iou_per_class(confusion_matrix((probabilities >= t).long(), target, 2))[1]) for t in thresholds}


def _presence(pred, true, cls: int, min_pixels: int, multi_label: bool) -> tuple[bool, bool]:
    """(truly present, predicted present) of defect type ``cls`` in one image (003 §6's rule)."""
    return bool(has_class(true, cls, multi_label).any()), bool(has_class(pred, cls, multi_label).sum() >= min_pixels)


def subset_presence_accuracy(
    pred_masks, true_masks, num_classes: int, min_pixels: int = 1, multi_label: bool = False
) -> float:
    """003 §6's subset accuracy: the share of images whose every defect type (classes 1..) is judged
    right, present or absent, by the same rule as ``defect_presence``."""
    right = [
        all(operator.eq(*_presence(pred, true, cls, min_pixels, multi_label)) for cls in range(1, num_classes))
        for pred, true in zip(pred_masks, true_masks, strict=True)
    ]
    return sum(right) / len(right) if right else math.nan


def defect_presence(
    pred_masks, true_masks, num_classes: int, min_pixels: int = 1, multi_label: bool = False
) -> dict[int, dict]:
    """Per class: is the defect present? Accuracy and a 2x2 confusion [truth][prediction].

    003 §6: a prediction shows a defect type when it has at least ``min_pixels`` pixels of it (the
    thesis uses 200); the ground truth has the defect when any pixel is labelled with it (the
    floor filters the model's noise, not the annotation).
    """
    out = {}
    for cls in range(1, num_classes):
        matrix = [[0, 0], [0, 0]]  # [truth][prediction], 0 = absent, 1 = present
        for pred, true in zip(pred_masks, true_masks, strict=True):
            truth, predicted = _presence(pred, true, cls, min_pixels, multi_label)
            matrix[int(truth)][int(predicted)] += 1
        total = sum(map(sum, matrix))
        out[cls] = {"accuracy": (matrix[0][0] + matrix[1][1]) / total if total else math.nan, "confusion": matrix}
    return out
