"""The project's training loop against a minimal hand-written PyTorch loop: same model, data and batch.

Both run in this process (no Ray), on the same DataLoader over generated 128x128 cells, a U-Net
with 16 base channels and 3 levels, batch 8, Adam, cross-entropy; epochs alternate between the two
so that drift in the machine's speed hits both alike.

    python benchmarks/loop_speed.py [--epochs 3]
"""

import argparse
import tempfile
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from trainables import train_loop
from trainables.losses import build_loss
from trainables.models import build_model

SPEC = {
    "name": "loop-speed",
    "seed": 0,
    "datasets": [{"name": "cells", "kind": "synthetic", "num_images": 48, "image_size": 128, "split": {"val": 8}}],
    "architectures": [{"name": "unet", "params": {"base_channels": 16, "depth": 3}}],
    "variants": ["baseline"],
    "budget": {"trials_per_arm": 1, "epochs": 1},
    "training": {"batch_size": 8, "loader_workers": 0},
}


@dataclass
class LoopSpeed:
    project_images_per_s: float
    hand_written_images_per_s: float

    @property
    def ratio(self) -> float:
        return self.project_images_per_s / self.hand_written_images_per_s


def _project_run(device: torch.device) -> train_loop.Run:
    from orchestrator.study.folder import StudyDir
    from orchestrator.study.spec import StudySpec
    from orchestrator.study.trial_config import trial_config

    spec = StudySpec.model_validate(SPEC)
    with tempfile.TemporaryDirectory() as storage:
        study = StudyDir.create(spec, storage)
        config = trial_config(study, spec.arms()[0])
    training = config.training
    data = train_loop.load_dataset(config.data, config.split, config.data_seed)
    model = build_model("unet", "baseline", in_channels=1, num_classes=2, params=config.architecture_params, seed=0)
    model, core = train_loop.prepared(model, training, prepare=lambda module: module.to(device))
    optimizer = train_loop.make_optimizer(model, {"lr": 1e-3}, compiled=training.compile)  # as a trial builds it
    loader = train_loop.make_loader(data.train, training.batch_size, True, 0, 1, 0, 0)
    return train_loop.Run(
        config, {"lr": 1e-3}, data, model, core, optimizer, None, loader, loader, build_loss("ce"), 0.0, device,
        False, 0,
    )  # fmt: skip


def _hand_written_epoch(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loader, device) -> None:
    model.train()
    for images, masks in loader:
        images, masks = images.to(device), masks.to(device)
        loss = F.cross_entropy(model(images), masks)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def _timed(step) -> float:
    started = time.perf_counter()
    step()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - started


def measure(epochs: int = 3) -> LoopSpeed:
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    run = _project_run(device)
    plain = build_model("unet", "baseline", in_channels=1, num_classes=2, params=dict(run.config.architecture_params))
    plain = plain.to(device)
    plain_optimizer = torch.optim.Adam(plain.parameters(), lr=1e-3)
    images = len(run.data.train)
    project, hand = [], []
    for epoch in range(epochs + 1):  # the first epoch of each warms up (allocator, kernels)
        project.append(_timed(lambda e=epoch: train_loop.train_one_epoch(run, e)))
        hand.append(_timed(lambda: _hand_written_epoch(plain, plain_optimizer, run.train_loader, device)))
    return LoopSpeed(images * epochs / sum(project[1:]), images * epochs / sum(hand[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    speed = measure(parser.parse_args().epochs)
    print(f"training loop: {speed.project_images_per_s:.1f} images/s")
    print(f"  baseline, a hand-written loop: {speed.hand_written_images_per_s:.1f} images/s (ratio {speed.ratio:.2f})")


if __name__ == "__main__":
    main()
