"""The per-worker training loop of one trial (runs on Ray Train workers).

Per epoch: train, validate over the whole validation split, save a checkpoint
and ``ray.train.report`` the metrics. A restarted trial continues from its
latest checkpoint, history included.
"""

import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import ray.train
import ray.train.torch
import torch
from torch.utils.data import DataLoader, DistributedSampler

from .checkpoint_files import CHECKPOINT_FILE
from .config import EarlyStopping, LrSchedule, SampledTrial, TrialConfig
from .data import LoadedDataset, load_dataset
from .eager_optim import EagerAdam
from .losses import LossFn, build_loss, segmentation_loss
from .metrics import empty_confusion, label_confusion, split_metrics
from .models import build_model
from .variants import get_variant

LrScheduler = torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the trial is recorded as failed."""


@dataclass
class TrialState:
    """What a checkpoint carries besides the weights: progress, the best value so far, every epoch's metrics."""

    epoch: int = 0
    best: float | None = None
    best_epoch: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    watched_best: float | None = None  # early stopping: the best value of its metric so far
    stale_epochs: int = 0  # early stopping: epochs since that value last improved
    stopped_early: bool = False

    def finished(self, epochs: int) -> bool:
        """Trained every epoch of the budget, or stopped early: nothing more trains from here."""
        return self.epoch >= epochs or self.stopped_early


@dataclass
class Run:
    """One worker's training set-up for a trial."""

    config: TrialConfig
    hyper: dict[str, Any]
    data: LoadedDataset
    model: torch.nn.Module  # as prepared by Ray Train (maybe DistributedDataParallel)
    core: torch.nn.Module  # the model itself
    optimizer: torch.optim.Optimizer
    scheduler: LrScheduler | None
    train_loader: DataLoader
    val_loader: DataLoader
    loss_fn: LossFn
    aux_weight: float
    device: torch.device
    amp: bool
    rank: int


def make_loader(dataset, batch_size: int, shuffle: bool, seed: int, world: int, rank: int, workers: int) -> DataLoader:
    # Seeded: the shuffling order and the augmentation draws (per-worker seeds derive from the generator).
    generator = torch.Generator().manual_seed(seed)
    options = {
        "batch_size": batch_size,
        "num_workers": workers,
        "generator": generator,
        "persistent_workers": workers > 0,
    }
    if shuffle and world > 1:
        sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed)
        return DataLoader(dataset, sampler=sampler, **options)
    return DataLoader(dataset, shuffle=shuffle, **options)


def loader_workers(configured: int | None, cpus_per_worker: float) -> int:
    """The configured count, by default the worker's CPUs beyond the one that trains."""
    return configured if configured is not None else max(0, int(cpus_per_worker) - 1)


def _use_amp(setting: str, device: torch.device) -> bool:
    return device.type == "cuda" and setting in ("auto", "bf16")


def make_scheduler(optimizer: torch.optim.Optimizer, schedule: LrSchedule, epochs: int) -> LrScheduler | None:
    if schedule.kind == "plateau":
        # 002 §2 uses Keras's ReduceLROnPlateau: reduce after `patience` epochs without a val_loss lower by
        # 1e-4; PyTorch's reduces after patience + 1 such epochs, hence the - 1.
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode="min",
            factor=schedule.factor,
            patience=max(schedule.patience - 1, 0),
            threshold=1e-4,
            threshold_mode="abs",
            min_lr=schedule.min_lr,
        )
    if schedule.kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=schedule.min_lr)
    return None


def step_schedule(run: "Run", val_loss: float) -> None:
    if isinstance(run.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        run.scheduler.step(val_loss)
    elif run.scheduler is not None:
        run.scheduler.step()


def stop_early(state: "TrialState", metrics: dict[str, Any], rule: EarlyStopping | None) -> bool:
    """Keras's EarlyStopping (003 §5.2): stop once ``rule.metric`` has not improved for ``patience`` epochs."""
    if rule is None:
        return False
    value = metrics[rule.metric]
    if rule.direction.better(value, state.watched_best):
        state.watched_best, state.stale_epochs = value, 0
    else:
        state.stale_epochs += 1
    state.stopped_early = state.stale_epochs >= rule.patience
    return state.stopped_early


def set_up(config: TrialConfig, hyper: dict[str, Any], seed: int) -> Run:
    """Seed, load the data, build and prepare the model, optimizer, loaders and loss."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(max(1, int(config.resources.cpus_per_worker)))
    context = ray.train.get_context()
    world, rank = context.get_world_size(), context.get_world_rank()
    device = ray.train.torch.get_device()
    training = config.training.with_sampled(hyper)
    data = load_dataset(config.data, config.split, config.data_seed, training.augmentation, training.stochastic_width)
    model = build_model(
        config.architecture,
        config.variant,
        in_channels=data.in_channels,
        num_classes=training.output.channels(len(data.class_names)),
        params=config.architecture_params,
        hyper=hyper,
        seed=seed,
    )
    model, core = prepared(model, training)
    optimizer = make_optimizer(model, hyper, compiled=training.compile)
    workers = loader_workers(training.loader_workers, config.resources.cpus_per_worker)
    return Run(
        config=config,
        hyper=hyper,
        data=data,
        model=model,
        core=core,
        optimizer=optimizer,
        scheduler=make_scheduler(optimizer, training.lr_schedule, training.epochs),
        train_loader=make_loader(data.train, training.batch_size, True, seed, world, rank, workers),
        val_loader=make_loader(data.val, training.batch_size, False, seed, 1, 0, workers),
        loss_fn=build_loss(training.loss, float(training.focal_gamma), training.output.multi_label),
        aux_weight=get_variant(config.variant).aux_weight(hyper),
        device=device,
        amp=_use_amp(training.mixed_precision, device),
        rank=rank,
    )


def make_optimizer(model: torch.nn.Module, hyper: dict[str, Any], compiled: bool) -> torch.optim.Optimizer:
    """Adam over the trainable parameters (a frozen encoder is not optimised); without torch._dynamo's
    import unless the model is compiled (eager_optim.py)."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    adam = torch.optim.Adam if compiled else EagerAdam
    return adam(trainable, lr=hyper["lr"], weight_decay=hyper.get("weight_decay", 0.0))


def prepared(model: torch.nn.Module, training, prepare=None) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(the model the training steps run, the model itself): NHWC, on the device and maybe DDP
    (``prepare``, by default Ray Train's), compiled."""
    if training.channels_last:
        model = model.to(memory_format=torch.channels_last)
    torch.backends.cudnn.benchmark = training.cudnn_benchmark
    model = (prepare or ray.train.torch.prepare_model)(model)
    core = model.module if hasattr(model, "module") else model
    return (torch.compile(model) if training.compile else model), core


def _batch_to(run: Run, images: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    images = images.to(run.device, non_blocking=True)
    if run.config.training.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return images, masks.to(run.device, non_blocking=True)


def restore(run: Run) -> TrialState | None:
    """Load the latest checkpoint, if the trial is restarting; None on a first start."""
    checkpoint = ray.train.get_checkpoint()
    if not checkpoint:
        return None
    with checkpoint.as_directory() as directory:
        saved = torch.load(os.path.join(directory, CHECKPOINT_FILE), map_location=run.device, weights_only=False)
    run.core.load_state_dict(saved["model"])
    if saved.get("optimizer") is not None:  # a finished trial's last checkpoint has none: nothing trains on
        run.optimizer.load_state_dict(saved["optimizer"])
    if run.scheduler is not None and saved.get("scheduler") is not None:
        run.scheduler.load_state_dict(saved["scheduler"])
    return TrialState(**saved["state"])


def train_one_epoch(run: Run, epoch: int) -> float:
    """One pass over the training split; the mean batch loss."""
    if isinstance(run.train_loader.sampler, DistributedSampler):
        run.train_loader.sampler.set_epoch(epoch)
    run.core.set_epoch(epoch)
    run.model.train()
    total, batches = torch.zeros((), device=run.device), 0
    for images, masks in run.train_loader:
        images, masks = _batch_to(run, images, masks)
        with torch.autocast(run.device.type, dtype=torch.bfloat16, enabled=run.amp):
            loss = segmentation_loss(run.model(images), masks, run.aux_weight, run.loss_fn)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        total += loss.detach()  # summed on the device: no host sync per step
        batches += 1
    mean = total.item() / max(batches, 1)
    if not math.isfinite(mean):  # a NaN or infinite loss in any step makes the sum so
        raise NonFiniteLossError(f"training loss became {mean} at epoch {epoch + 1}")
    return mean


@torch.no_grad()
def validate(run: Run) -> tuple[float, torch.Tensor]:
    """The validation loss and the confusion counts over the whole validation split."""
    run.core.eval()
    num_classes, head = len(run.data.class_names), run.config.training.output
    confusion = empty_confusion(num_classes, head.multi_label)
    total_loss, count = 0.0, 0
    for images, masks in run.val_loader:
        images, masks = _batch_to(run, images, masks)
        with torch.autocast(run.device.type, dtype=torch.bfloat16, enabled=run.amp):
            logits = run.core(images)
        total_loss += segmentation_loss(logits.float(), masks, loss=run.loss_fn).item() * len(images)
        count += len(images)
        confusion += label_confusion(head.predict(logits).cpu(), masks.cpu(), num_classes, head.multi_label)
    return total_loss / max(count, 1), confusion


def epoch_metrics(run: Run, state: TrialState, epoch: int, train_loss: float, started: float) -> dict[str, Any]:
    """The epoch's report, with the best value so far; updates ``state``."""
    val_loss, confusion = validate(run)
    metrics: dict[str, Any] = {
        "epoch": epoch + 1,
        "train_loss": train_loss,
        "val_loss": val_loss,
        **{f"val_{name}": value for name, value in split_metrics(confusion, run.data.class_names).items()},
        "epoch_seconds": time.perf_counter() - started,
        "node": ray.get_runtime_context().get_node_id() if ray.is_initialized() else None,  # where it trained
    }
    value = metrics[run.config.metric]
    if run.config.direction.better(value, state.best):
        state.best, state.best_epoch = value, epoch + 1
    metrics["best_metric"], metrics["best_epoch"] = state.best, state.best_epoch
    metrics["lr"] = run.optimizer.param_groups[0]["lr"]  # the rate this epoch trained with
    step_schedule(run, val_loss)
    metrics["stopped_early"] = stop_early(state, metrics, run.config.training.early_stopping)
    state.epoch = epoch + 1
    return metrics


def checkpoint_payload(run: Run, state: TrialState) -> dict[str, Any]:
    """The model, optimizer, schedule and loop state; a finished trial's last checkpoint only the model
    and loop state: nothing trains on from it (a restart replays its report), and Adam's two moments
    would make it three times the size (390 MB against 130 for a resnet50 U-Net, 0.7 CPU-s more to write)."""
    finished = state.finished(run.config.training.epochs)
    return {
        "model": run.core.state_dict(),
        "optimizer": None if finished else run.optimizer.state_dict(),
        "scheduler": None if finished or run.scheduler is None else run.scheduler.state_dict(),
        "state": vars(state),
    }


def report(run: Run, metrics: dict[str, Any], state: TrialState) -> None:
    """``ray.train.report`` the metrics with a checkpoint (rank 0 writes it)."""
    with tempfile.TemporaryDirectory() as directory:
        checkpoint = None
        if run.rank == 0:
            payload = checkpoint_payload(run, state)
            torch.save(payload, os.path.join(directory, CHECKPOINT_FILE))
            checkpoint = ray.train.Checkpoint.from_directory(directory)
        ray.train.report(metrics, checkpoint=checkpoint)


def train_loop_per_worker(loop_config: dict[str, SampledTrial]) -> None:
    """Ray Train's entry point; Ray wants a dict, which holds one ``SampledTrial`` under ``"trial"``."""
    loop_started_at = time.time()  # the driver measures the trial's start-up up to here
    trial = loop_config["trial"]
    config = trial.config
    run = set_up(config, trial.hyper, trial.seed)
    start_up = {"loop_started_at": loop_started_at, "setup_seconds": time.time() - loop_started_at}
    state = restore(run)
    # After a restart, the first report also carries the earlier epochs: the driver may
    # have died before recording them (it writes each epoch row idempotently).
    replay = state is not None
    state = state or TrialState()
    if replay and state.finished(config.training.epochs) and state.history:
        # Finished before the driver died: report the final epoch again so Tune sees the trial end.
        ray.train.report({**state.history[-1], "history": state.history[:-1]})
        return
    for epoch in range(state.epoch, config.training.epochs):
        started = time.perf_counter()
        train_loss = train_one_epoch(run, epoch)
        metrics = epoch_metrics(run, state, epoch, train_loss, started)
        reported = {**metrics, "history": list(state.history)} if replay else metrics
        state.history.append(metrics)
        report(run, {**reported, **start_up}, state)
        replay, start_up = False, {}
        if state.stopped_early:
            break
