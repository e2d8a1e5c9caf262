"""The losses' names and how a spec combines them, without torch: what a spec is checked against."""

LOSSES = ("ce", "bce", "dice", "jaccard", "focal", "binary_focal", "binary_focal_dice")
BINARY_LOSSES = ("bce", "binary_focal", "binary_focal_dice")  # the only ones a sigmoid head can train with
MULTILABEL_LOSSES = ("bce", "dice")  # the only ones a multilabel head can train with


def loss_weights(spec: str | dict[str, float]) -> dict[str, float]:
    """``"ce"`` -> {ce: 1}; ``"ce+dice"`` -> equal weights (the form a search space can sample); a mapping as given."""
    if isinstance(spec, str):
        names = spec.split("+")
        return {name.strip(): 1.0 / len(names) for name in names}
    return dict(spec)
