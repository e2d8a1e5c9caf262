"""The per-worker training loop of one trial (runs on Ray Train workers).

Per epoch: train, validate over the whole validation split, save a checkpoint
and ``ray.train.report`` the metrics. A restarted trial continues from its
latest checkpoint, history included.
"""

import math
import os
import tempfile
import time
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler

import ray.train
import ray.train.torch

from .data import load_dataset
from .losses import build_loss, segmentation_loss
from .metrics import confusion_matrix, split_metrics
from .models import build_model

CHECKPOINT_FILE = "state.pt"


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the trial is recorded as failed."""


def _loader(dataset, batch_size: int, shuffle: bool, seed: int, world: int, rank: int, workers: int) -> DataLoader:
    # Seeded: the shuffling order and the augmentation draws (per-worker seeds derive from the generator).
    generator = torch.Generator().manual_seed(seed)
    options = {"batch_size": batch_size, "num_workers": workers, "generator": generator, "persistent_workers": workers > 0}
    if shuffle and world > 1:
        sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed)
        return DataLoader(dataset, sampler=sampler, **options)
    return DataLoader(dataset, shuffle=shuffle, **options)


def loader_workers(arm: dict[str, Any]) -> int:
    """Default: the worker's CPUs beyond the one that trains."""
    configured = arm.get("loader_workers")
    return configured if configured is not None else max(0, int(arm["resources"]["cpus_per_worker"]) - 1)


def _use_amp(setting: str, device: torch.device) -> bool:
    return device.type == "cuda" and setting in ("auto", "bf16")


def train_loop_per_worker(config: dict[str, Any]) -> None:
    hyper, arm, seed = config["hyper"], config["arm"], config["seed"]
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(max(1, int(arm["resources"]["cpus_per_worker"])))
    context = ray.train.get_context()
    world, rank = context.get_world_size(), context.get_world_rank()
    device = ray.train.torch.get_device()
    amp = _use_amp(arm.get("mixed_precision", "auto"), device)

    data = load_dataset(arm["dataset"], hyper.get("augmentation", arm["augmentation"]), arm["stochastic_width"])
    model = build_model(
        arm["architecture"],
        arm["variant"],
        in_channels=data.in_channels,
        num_classes=len(data.class_names),
        params=arm["arch_params"],
        hyper=hyper,
        seed=seed,
    )
    model = ray.train.torch.prepare_model(model)
    core = model.module if hasattr(model, "module") else model
    optimizer = torch.optim.Adam(model.parameters(), lr=hyper["lr"], weight_decay=hyper.get("weight_decay", 0.0))
    workers = loader_workers(arm)
    train_loader = _loader(data.train, arm["batch_size"], True, seed, world, rank, workers)
    val_loader = _loader(data.val, arm["batch_size"], False, seed, 1, 0, workers)
    ds_lambda = float(hyper.get("ds_lambda", 0.0))
    loss_fn = build_loss(hyper.get("loss", arm.get("loss", "ce")), float(hyper.get("focal_gamma", arm.get("focal_gamma", 2.0))))
    metric, maximize = arm["metric"], arm["mode"] == "max"

    state: dict[str, Any] = {"epoch": 0, "best": None, "best_epoch": None, "history": []}
    checkpoint = ray.train.get_checkpoint()
    # After a restart, the first report also carries the earlier epochs: the driver may
    # have died before recording them (it writes each epoch row idempotently).
    replay = bool(checkpoint)
    if checkpoint:
        with checkpoint.as_directory() as directory:
            saved = torch.load(os.path.join(directory, CHECKPOINT_FILE), map_location=device, weights_only=False)
        core.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        state = saved["state"]
        if state["epoch"] >= arm["epochs"] and state["history"]:
            # Finished before the driver died: report the final epoch again so Tune sees the trial end.
            ray.train.report({**state["history"][-1], "history": state["history"][:-1]})
            return

    for epoch in range(state["epoch"], arm["epochs"]):
        started = time.perf_counter()
        if isinstance(train_loader.sampler, DistributedSampler):
            train_loader.sampler.set_epoch(epoch)
        core.set_epoch(epoch)
        model.train()
        train_loss, batches = 0.0, 0
        for images, masks in train_loader:
            images, masks = images.to(device), masks.to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                loss = segmentation_loss(model(images), masks, ds_lambda, loss_fn)
            if not torch.isfinite(loss):
                raise NonFiniteLossError(f"training loss became {loss.item()} at epoch {epoch + 1}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            train_loss += loss.item()
            batches += 1

        val_loss, confusion = _validate(core, val_loader, len(data.class_names), device, amp, loss_fn)
        metrics: dict[str, Any] = {
            "epoch": epoch + 1,
            "train_loss": train_loss / max(batches, 1),
            "val_loss": val_loss,
            **{f"val_{name}": value for name, value in split_metrics(confusion, data.class_names).items()},
            "epoch_seconds": time.perf_counter() - started,
        }
        value = metrics[metric]
        improved = state["best"] is None or (value > state["best"] if maximize else value < state["best"])
        if not math.isnan(value) and improved:
            state["best"], state["best_epoch"] = value, epoch + 1
        metrics["best_metric"], metrics["best_epoch"] = state["best"], state["best_epoch"]
        state["epoch"] = epoch + 1
        reported = {**metrics, "history": list(state["history"])} if replay else metrics
        state["history"].append(metrics)
        _report(reported, core, optimizer, state, rank)
        replay = False


@torch.no_grad()
def _validate(model, loader, num_classes: int, device, amp: bool, loss_fn) -> tuple[float, torch.Tensor]:
    model.eval()
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    total_loss, count = 0.0, 0
    for images, masks in loader:
        images, masks = images.to(device), masks.to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(images)
        total_loss += segmentation_loss(logits.float(), masks, loss=loss_fn).item() * len(images)
        count += len(images)
        confusion += confusion_matrix(logits.argmax(1).cpu(), masks.cpu(), num_classes)
    return total_loss / max(count, 1), confusion


def _report(metrics, model, optimizer, state, rank: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        checkpoint = None
        if rank == 0:
            payload = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "state": state}
            torch.save(payload, os.path.join(directory, CHECKPOINT_FILE))
            checkpoint = ray.train.Checkpoint.from_directory(directory)
        ray.train.report(metrics, checkpoint=checkpoint)
