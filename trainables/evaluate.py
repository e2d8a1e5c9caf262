"""Final evaluation: a trial's best checkpoint on the held-out test split, per source image.

Runs wherever it is called (the driver by default). Tiles of one source image
are accumulated into that image's confusion matrix, so per-image metrics are
per source image.
"""

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .data import convert_channels, load_pairs, resize_and_tile
from .metrics import confusion_matrix, split_metrics
from .models import build_model
from .train_loop import CHECKPOINT_FILE


def best_checkpoint(run_dir: Path, metric: str, mode: str) -> Path:
    """The checkpoint folder Ray Train kept with the best ``metric`` (from its run snapshot)."""
    snapshot = json.loads((run_dir / "checkpoint_manager_snapshot.json").read_text())
    scored = [r for r in snapshot["checkpoint_results"] if r["metrics"].get(metric) is not None]
    pick = max if mode == "max" else min
    best = pick(scored, key=lambda r: r["metrics"][metric])
    return run_dir / best["checkpoint_dir_name"]


def evaluate_checkpoint(
    checkpoint_dir: Path, arm: dict[str, Any], hyper: dict[str, Any], class_names: list[str], device: str = "cpu"
) -> tuple[dict[str, float], list[dict[str, Any]], float]:
    """Test-split metrics (accumulated over all images), per-image rows, and inference ms per image."""
    dataset = arm["dataset"]
    saved = torch.load(Path(checkpoint_dir) / CHECKPOINT_FILE, map_location=device, weights_only=False)
    stems = dataset["split"]["test"]
    pairs_by_stem = {stem: load_pairs(dataset, [stem]) for stem in stems}
    first = resize_and_tile(pairs_by_stem[stems[0]], dataset.get("resize"), dataset.get("tile"))[0][0]
    in_channels = 1 if convert_channels(first, dataset.get("channels")).ndim == 2 else 3
    model = build_model(arm["architecture"], arm["variant"], in_channels=in_channels, num_classes=len(class_names),
                        params=arm["arch_params"], hyper=hyper)
    model.load_state_dict(saved["model"])
    model.to(device).eval()
    total = torch.zeros(len(class_names), len(class_names), dtype=torch.int64)
    rows, seconds, count = [], 0.0, 0
    with torch.no_grad():
        for stem in stems:
            confusion = torch.zeros_like(total)
            for image, mask in resize_and_tile(pairs_by_stem[stem], dataset.get("resize"), dataset.get("tile")):
                image = convert_channels(image, dataset.get("channels"))
                tensor = torch.from_numpy(image.astype(np.float32) / 255)
                tensor = (tensor[None] if tensor.ndim == 2 else tensor.permute(2, 0, 1))[None].to(device)
                started = time.perf_counter()
                prediction = model(tensor).argmax(1).cpu()
                seconds += time.perf_counter() - started
                count += 1
                confusion += confusion_matrix(prediction, torch.from_numpy(mask.astype(np.int64))[None], len(class_names))
            total += confusion
            rows.append({"image": stem, **{f"test_{k}": v for k, v in split_metrics(confusion, class_names).items()}})
    summary = {f"test_{k}": v for k, v in split_metrics(total, class_names).items()}
    return summary, rows, 1000 * seconds / max(count, 1)
