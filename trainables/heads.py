"""The output head: how a model's last layer turns into class probabilities and predictions.

``softmax``: one channel per class, softmax over them (the default).
``sigmoid``: binary tasks only; one channel whose sigmoid is the foreground
probability, as 004 §3.5.1 builds its models ("a 1-channel sigmoid head") and
trains them with a binary focal loss (§3.5.2). Metrics, thresholds and argmax
predictions see it as two class probabilities.
``multilabel``: multi-label datasets (003 §5.1.3); one independent sigmoid
channel per foreground class, each thresholded on its own (0.5 unless the
protocol says otherwise), predictions are bit masks (see ``labels``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch loads where tensors are made: the study's drivers only name heads
    import torch

MULTILABEL_THRESHOLD = 0.5  # 003 §5.1.3: a pixel shows a defect type where its sigmoid is at least 0.5


class OutputHead(StrEnum):
    SOFTMAX = "softmax"
    SIGMOID = "sigmoid"
    MULTILABEL = "multilabel"

    @property
    def multi_label(self) -> bool:
        return self is OutputHead.MULTILABEL

    def channels(self, num_classes: int) -> int:
        """The model's output channels for a task with ``num_classes`` classes (background included)."""
        if self is OutputHead.SIGMOID:
            return 1
        return num_classes - 1 if self.multi_label else num_classes

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """(N, classes, H, W) class probabilities from the model's (N, channels, H, W) output;
        multilabel: (N, classes - 1, H, W), each foreground class's own probability."""
        if self is OutputHead.SIGMOID:
            import torch

            foreground = logits.sigmoid()
            return torch.cat([1 - foreground, foreground], dim=1)
        return logits.sigmoid() if self.multi_label else logits.softmax(1)

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        """(N, H, W) labels: argmax of the probabilities (foreground at p >= 0.5 for sigmoid), bit masks
        for multilabel."""
        from .labels import from_channels

        if self is OutputHead.SIGMOID:
            return (logits[:, 0] >= 0).long()
        return from_channels(logits >= 0) if self.multi_label else logits.argmax(1)

    def decide(self, probabilities: torch.Tensor, threshold: float | None) -> torch.Tensor:
        """One image's (H, W) labels from its (classes, H, W) probabilities: argmax, or the foreground
        at ``threshold``; multilabel: every class at ``threshold`` (0.5 by default)."""
        from .labels import from_channels

        if self.multi_label:
            cut = MULTILABEL_THRESHOLD if threshold is None else threshold
            return from_channels((probabilities >= cut)[None])[0]
        if threshold is None:
            return probabilities.argmax(0)
        return (probabilities[1] >= threshold).long()
