"""Final evaluation: a trial's best checkpoint on held-out data, per source image.

Tiles of one source image are accumulated into that image's confusion matrix,
so per-image metrics are per source image. Binary tasks first choose a
probability threshold on the validation split (0.50, 0.90 ... 0.98) and apply
it to the held-out split.
"""

import json
import math
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from .data import load_tiles
from .metrics import (
    confusion_matrix,
    crack_metrics,
    defect_presence,
    image_level_errors,
    split_metrics,
    threshold_sweep,
)
from .models import build_model, count_parameters
from .train_loop import CHECKPOINT_FILE


def best_checkpoint(run_dir: Path, metric: str, mode: str) -> Path:
    """The checkpoint folder Ray Train kept with the best ``metric`` (from its run snapshot)."""
    snapshot = json.loads((Path(run_dir) / "checkpoint_manager_snapshot.json").read_text())
    scored = [r for r in snapshot["checkpoint_results"]
              if r["metrics"].get(metric) is not None and not math.isnan(r["metrics"][metric])]
    if not scored:
        raise FileNotFoundError(f"no checkpoint with a value of {metric} in {run_dir}")
    pick = max if mode == "max" else min
    return Path(run_dir) / pick(scored, key=lambda r: r["metrics"][metric])["checkpoint_dir_name"]


def _source_images(dataset: dict[str, Any], stems: list[str]) -> Iterator[tuple[str, list]]:
    """(stem, [(image, mask), ...] tiles) for each source image, loaded one at a time."""
    for stem in stems:
        yield stem, load_tiles(dataset, [stem])


class _Predictor:
    """Class probabilities of one image at batch 1, timing the forward passes."""

    def __init__(self, model: torch.nn.Module, device: str):
        self.model, self.device = model, device
        self.reset_timer()

    def reset_timer(self) -> None:
        self.seconds, self.calls = 0.0, 0

    @torch.no_grad()
    def __call__(self, image: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(image.astype(np.float32) / 255)
        tensor = (tensor[None] if tensor.ndim == 2 else tensor.permute(2, 0, 1))[None].to(self.device)
        started = time.perf_counter()
        logits = self.model(tensor)
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        self.seconds += time.perf_counter() - started
        self.calls += 1
        return logits.float().softmax(1)[0].cpu()

    @property
    def ms_per_image(self) -> float:
        return 1000 * self.seconds / max(self.calls, 1)


def _predict(probabilities: torch.Tensor, threshold: float | None) -> torch.Tensor:
    if threshold is None:
        return probabilities.argmax(0)
    return (probabilities[1] >= threshold).long()


def choose_threshold(predict: _Predictor, dataset: dict[str, Any]) -> tuple[float, dict[float, float]]:
    """Binary task: the validation split's foreground IoU at each threshold; the best one (ties: the lowest)."""
    probabilities, targets = [], []
    for _, tiles in _source_images(dataset, dataset["split"]["val"]):
        for image, mask in tiles:
            probabilities.append(predict(image)[1].reshape(-1))
            targets.append(torch.from_numpy(mask.astype(np.int64)).reshape(-1))
    sweep = threshold_sweep(torch.cat(probabilities), torch.cat(targets))
    valid = {t: v for t, v in sweep.items() if not math.isnan(v)}
    return (max(valid, key=lambda t: (valid[t], -t)) if valid else 0.5), sweep


def evaluate_checkpoint(
    checkpoint_dir: Path,
    arm: dict[str, Any],
    hyper: dict[str, Any],
    class_names: list[str],
    *,
    threshold_search: bool = True,
    presence_min_pixels: int = 1,
    device: str = "cpu",
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Metrics over the held-out split (accumulated over all its pixels) and one row per source image.

    The held-out split is the test split, or the validation images when the
    dataset has none (with K folds: each fold's own held-out images).
    """
    dataset = arm["dataset"]
    saved = torch.load(Path(checkpoint_dir) / CHECKPOINT_FILE, map_location=device, weights_only=False)
    eval_split = "test" if dataset["split"]["test"] else "val"
    stems = dataset["split"][eval_split]
    first_image = next(_source_images(dataset, stems[:1]))[1][0][0]
    model = build_model(arm["architecture"], arm["variant"], in_channels=1 if first_image.ndim == 2 else 3,
                        num_classes=len(class_names), params=arm["arch_params"], hyper=hyper)
    model.load_state_dict(saved["model"])
    model.to(device).eval()
    predict = _Predictor(model, device)
    predict(first_image)  # warm-up

    binary = len(class_names) == 2
    threshold, sweep = choose_threshold(predict, dataset) if binary and threshold_search else (None, {})
    predict.reset_timer()  # time the held-out images only

    total = torch.zeros(len(class_names), len(class_names), dtype=torch.int64)
    rows, predicted_masks, true_masks = [], [], []
    for stem, tiles in _source_images(dataset, stems):
        predictions = [_predict(predict(image), threshold).reshape(-1).to(torch.uint8) for image, _ in tiles]
        truths = [torch.from_numpy(mask.reshape(-1)) for _, mask in tiles]
        predicted_masks.append(torch.cat(predictions))
        true_masks.append(torch.cat(truths))
        confusion = confusion_matrix(predicted_masks[-1].long(), true_masks[-1].long(), len(class_names))
        total += confusion
        rows.append({"image": stem, "eval_split": eval_split,
                     **{f"test_{k}": v for k, v in split_metrics(confusion, class_names).items()}})

    summary: dict[str, Any] = {
        "eval_split": eval_split,
        "checkpoint_epoch": saved["state"]["epoch"],
        "images": len(stems),
        "threshold": threshold,
        "parameters": count_parameters(model),
        "inference_ms": predict.ms_per_image,
        "device": device,
        **{f"test_{k}": v for k, v in split_metrics(total, class_names).items()},
        **{f"val_fg_iou_t{round(t * 100):03d}": v for t, v in sweep.items()},
    }
    if binary:
        summary.update({f"test_{k}": v for k, v in crack_metrics(total).items()})
        summary.update(image_level_errors(predicted_masks, true_masks))
    presence = defect_presence(predicted_masks, true_masks, len(class_names), presence_min_pixels)
    for index, result in presence.items():
        (tn, fp), (fn, tp) = result["confusion"]
        name = class_names[index]
        summary.update({f"presence_accuracy_{name}": result["accuracy"], f"presence_tp_{name}": tp,
                        f"presence_fp_{name}": fp, f"presence_fn_{name}": fn, f"presence_tn_{name}": tn})
    return summary, rows

