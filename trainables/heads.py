"""The output head: how a model's last layer turns into class probabilities.

``softmax``: one channel per class, softmax over them (the default).
``sigmoid``: binary tasks only; one channel whose sigmoid is the foreground
probability, as 004 §3.5.1 builds its models ("a 1-channel sigmoid head") and
trains them with a binary focal loss (§3.5.2). Metrics, thresholds and argmax
predictions see both heads as two class probabilities.
"""

from enum import StrEnum

import torch


class OutputHead(StrEnum):
    SOFTMAX = "softmax"
    SIGMOID = "sigmoid"

    def channels(self, num_classes: int) -> int:
        """The model's output channels for a task with ``num_classes`` classes."""
        return 1 if self is OutputHead.SIGMOID else num_classes

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """(N, classes, H, W) class probabilities from the model's (N, channels, H, W) output."""
        if self is OutputHead.SIGMOID:
            foreground = logits.sigmoid()
            return torch.cat([1 - foreground, foreground], dim=1)
        return logits.softmax(1)

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        """(N, H, W) class labels: argmax of the probabilities (foreground at p >= 0.5 for sigmoid)."""
        if self is OutputHead.SIGMOID:
            return (logits[:, 0] >= 0).long()
        return logits.argmax(1)
