"""The names of the metrics, without torch: what the results schema and the drivers need.

``trainables.metrics`` computes them; ``split_metrics`` returns exactly ``metric_names`` (a test checks).
"""

SPLIT_MEANS = ("miou", "miou_fg", "dice_mean", "dice_mean_fg", "precision_mean", "recall_mean", "pixel_accuracy")
CRACK_METRICS = ("crack_iou", "background_iou", "crack_precision", "crack_recall", "crack_f1", "background_f1")
SWEEP_THRESHOLDS = (0.5, *[round(0.90 + 0.01 * i, 2) for i in range(9)])


def metric_names(class_names: list[str]) -> list[str]:
    """The names ``split_metrics`` returns for these classes (trials report them prefixed ``val_``)."""
    per_class = [f"{kind}_{name}" for name in class_names for kind in ("iou", "dice")]
    return [*SPLIT_MEANS, *per_class]


def threshold_column(threshold: float) -> str:
    """The column of the validation foreground IoU at ``threshold`` (0.95 -> val_fg_iou_t095)."""
    return f"val_fg_iou_t{round(threshold * 100):03d}"
