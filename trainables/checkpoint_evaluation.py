"""Final evaluation: a trial's best checkpoint on held-out data, per source image.

Tiles of one source image are accumulated into that image's confusion matrix,
so per-image metrics are per source image. Binary tasks predict by argmax,
or, where the protocol asks, at a fixed foreground threshold or at the one
chosen on the validation split (0.50, 0.90 ... 0.98). Multi-label tasks
threshold each class on its own (0.5 unless the protocol sets one).
"""

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checkpoint_files import CHECKPOINT_FILE
from .config import TrialConfig
from .data import class_names_of, image_sources, image_to_tensor, load_tiles
from .heads import MULTILABEL_THRESHOLD, OutputHead
from .metric_names import threshold_column
from .metrics import (
    crack_metrics,
    defect_presence,
    empty_confusion,
    image_level_errors,
    label_confusion,
    per_source_crack_iou,
    split_metrics,
    subset_presence_accuracy,
    threshold_sweep,
)
from .models import build_model, count_parameters


def _source_images(config: TrialConfig, stems: Sequence[str]) -> Iterator[tuple[str, list]]:
    """(stem, [(image, mask), ...] tiles) for each source image, loaded one at a time."""
    for stem in stems:
        yield stem, load_tiles(config.data, [stem], config.data_seed)


class _Predictor:
    """Class probabilities of one image at batch 1, timing the forward passes."""

    def __init__(self, model: torch.nn.Module, head: OutputHead, device: str):
        self.model, self.head, self.device = model, head, device
        self.reset_timer()

    def reset_timer(self) -> None:
        self.seconds, self.calls = 0.0, 0

    @torch.no_grad()
    def __call__(self, image: np.ndarray) -> torch.Tensor:
        tensor = image_to_tensor(image)[None].to(self.device)
        started = time.perf_counter()
        logits = self.model(tensor)
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        self.seconds += time.perf_counter() - started
        self.calls += 1
        return self.head.probabilities(logits.float())[0].cpu()

    @property
    def ms_per_image(self) -> float:
        return 1000 * self.seconds / max(self.calls, 1)


def choose_threshold(predict: _Predictor, config: TrialConfig) -> tuple[float, dict[float, float]]:
    """Binary task: the validation split's foreground IoU at each threshold; the best one (ties: the lowest)."""
    probabilities, targets = [], []
    for _, tiles in _source_images(config, config.split.val):
        for image, mask in tiles:
            probabilities.append(predict(image)[1].reshape(-1))
            targets.append(torch.from_numpy(mask.astype(np.int64)).reshape(-1))
    sweep = threshold_sweep(torch.cat(probabilities), torch.cat(targets))
    valid = {t: v for t, v in sweep.items() if not math.isnan(v)}
    return (max(valid, key=lambda t: (valid[t], -t)) if valid else 0.5), sweep


def _load_model(checkpoint_dir: Path, config: TrialConfig, hyper: dict[str, Any], num_classes: int, device: str):
    """The checkpoint's model in eval mode on ``device``, and the epoch it was saved at."""
    # Memory-mapped: of a checkpoint that has the optimizer's state too, only the model's tensors are read.
    saved = torch.load(Path(checkpoint_dir) / CHECKPOINT_FILE, map_location=device, weights_only=False, mmap=True)
    _, stems = config.split.held_out
    first_image = next(_source_images(config, stems[:1]))[1][0][0]
    model = build_model(
        config.architecture,
        config.variant,
        in_channels=1 if first_image.ndim == 2 else 3,
        num_classes=config.training.output.channels(num_classes),
        params=config.architecture_params,
        hyper=hyper,
    )
    model.load_state_dict(saved["model"])
    model.to(device).eval()
    return model, first_image, saved["state"]["epoch"]


@dataclass
class HeldOutPredictions:
    """Per source image: the confusion counts; over all images: flat predicted and true masks."""

    num_classes: int
    multi_label: bool
    total: torch.Tensor
    per_image: list[tuple[str, torch.Tensor]] = field(default_factory=list)
    predicted: list[torch.Tensor] = field(default_factory=list)
    truth: list[torch.Tensor] = field(default_factory=list)

    def add(self, stem: str, predicted: torch.Tensor, truth: torch.Tensor) -> None:
        self.predicted.append(predicted)
        self.truth.append(truth)
        confusion = label_confusion(predicted.long(), truth.long(), self.num_classes, self.multi_label)
        self.total += confusion
        self.per_image.append((stem, confusion))


def _decision_threshold(
    predict: _Predictor, config: TrialConfig, num_classes: int
) -> tuple[float | None, dict[float, float]]:
    """A binary task's foreground threshold: swept on validation, fixed, or None (argmax, the default);
    a multi-label task's per-class threshold; None (argmax) for any other task."""
    if config.training.output.multi_label:
        threshold = config.evaluation.threshold
        return (MULTILABEL_THRESHOLD if threshold is None else threshold), {}
    if num_classes != 2:
        return None, {}
    if config.evaluation.threshold_sweep:
        return choose_threshold(predict, config)
    return config.evaluation.threshold, {}


def _predict_held_out(
    predict: _Predictor, config: TrialConfig, thresholds: Sequence[float | None], num_classes: int
) -> list[HeldOutPredictions]:
    """The held-out images predicted once, and decided at each of ``thresholds`` (one result each)."""
    multi_label = config.training.output.multi_label
    empty = [empty_confusion(num_classes, multi_label) for _ in thresholds]
    results = [HeldOutPredictions(num_classes, multi_label, total) for total in empty]
    decide = config.training.output.decide
    for stem, tiles in _source_images(config, config.split.held_out[1]):
        probabilities = [predict(image) for image, _ in tiles]
        truth = torch.cat([torch.from_numpy(mask.reshape(-1)) for _, mask in tiles])
        for predictions, threshold in zip(results, thresholds, strict=True):
            decided = [decide(tile, threshold).reshape(-1).to(torch.uint8) for tile in probabilities]
            predictions.add(stem, torch.cat(decided), truth)
    return results


def _presence_columns(predictions: HeldOutPredictions, class_names: list[str], min_pixels: int) -> dict[str, Any]:
    masks = (predictions.predicted, predictions.truth, len(class_names), min_pixels, predictions.multi_label)
    presence, subset = defect_presence(*masks), subset_presence_accuracy(*masks)
    accuracies = [result["accuracy"] for result in presence.values()]
    mean = sum(accuracies) / len(accuracies) if accuracies else math.nan
    columns: dict[str, Any] = {"presence_subset_accuracy": subset, "presence_accuracy_mean": mean}
    for index, result in presence.items():
        (tn, fp), (fn, tp) = result["confusion"]
        name = class_names[index]
        columns.update(
            {
                f"presence_accuracy_{name}": result["accuracy"],
                f"presence_tp_{name}": tp,
                f"presence_fp_{name}": fp,
                f"presence_fn_{name}": fn,
                f"presence_tn_{name}": tn,
            }
        )
    return columns


def evaluate_checkpoint(
    checkpoint_dir: Path, configs: Sequence[TrialConfig], hyper: dict[str, Any], device: str = "cpu"
) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """For each of ``configs``: metrics over the held-out split (accumulated over all its pixels) and
    one row per source image.

    ``configs`` are the rows of one arm's checkpoint: the arm's own, last, and its threshold rows
    (002 §3: SW, SW95 ... one trained model at fixed thresholds). They share the model and the
    images and differ only in the decision threshold, so the images are predicted once and decided
    at each row's threshold. The held-out split is the test split, or the validation images when
    the dataset has none (with K folds: each fold's own held-out images).
    """
    arm = configs[-1]
    class_names = class_names_of(arm.data)
    model, first_image, epoch = _load_model(checkpoint_dir, arm, hyper, len(class_names), device)
    predict = _Predictor(model, arm.training.output, device)
    predict(first_image)  # warm-up
    decisions = [_decision_threshold(predict, config, len(class_names)) for config in configs]
    predict.reset_timer()  # time the held-out images only
    held_out = _predict_held_out(predict, arm, [threshold for threshold, _ in decisions], len(class_names))
    checkpoint = {
        "checkpoint_epoch": epoch,
        "parameters": count_parameters(model),
        "trainable_parameters": count_parameters(model, trainable_only=True),
        "inference_ms": predict.ms_per_image,
        "device": device,
    }
    return [
        _evaluation(config, class_names, predictions, decision, checkpoint)
        for config, decision, predictions in zip(configs, decisions, held_out, strict=True)
    ]


def _evaluation(
    config: TrialConfig,
    class_names: list[str],
    predictions: HeldOutPredictions,
    decision: tuple[float | None, dict[float, float]],
    checkpoint: dict[str, Any],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One row's summary and per-image rows from its decided predictions."""
    threshold, sweep = decision
    eval_split, stems = config.split.held_out
    rows = [
        {"image": stem, "eval_split": eval_split, **{f"test_{k}": v for k, v in split_metrics(c, class_names).items()}}
        for stem, c in predictions.per_image
    ]
    summary: dict[str, Any] = {
        "eval_split": eval_split,
        "images": len(stems),
        "threshold": threshold,
        **checkpoint,
        **{f"test_{k}": v for k, v in split_metrics(predictions.total, class_names).items()},
        **{threshold_column(t): v for t, v in sweep.items()},
    }
    if len(class_names) == 2 and not config.training.output.multi_label:
        summary.update({f"test_{k}": v for k, v in crack_metrics(predictions.total).items()})
        summary.update(image_level_errors(predictions.predicted, predictions.truth))
        by_source = per_source_crack_iou(predictions.per_image, image_sources(config.data))
        summary.update({f"test_{k}": v for k, v in by_source.items()})
    summary.update(_presence_columns(predictions, class_names, config.evaluation.presence_min_pixels))
    return summary, rows


def evaluate_on_this_worker(
    checkpoint_dir: Path, configs: Sequence[TrialConfig], hyper: dict[str, Any]
) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The final evaluation as a Ray task: on the GPU Ray gave this worker, if it gave one."""
    import ray

    device = "cuda" if torch.cuda.is_available() else "cpu"
    evaluations = evaluate_checkpoint(checkpoint_dir, configs, hyper, device)
    context = ray.get_runtime_context()
    for summary, _ in evaluations:
        summary.update(
            evaluation_task_id=context.get_task_id(),
            evaluation_node=context.get_node_id(),
            evaluation_worker_id=context.get_worker_id(),
        )
    return evaluations
