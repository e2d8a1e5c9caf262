"""Learning rate + the loss: which one (multi-class safe choices) and the focal loss's gamma."""

PARAMETERS = {"lr": "float", "loss": "str", "focal_gamma": "float"}

LOSS_CHOICES = ["ce", "dice", "focal", "ce+dice", "focal+dice"]


def sample(trial, context):
    trial.suggest_float("lr", 1e-5, 1e-2, log=True)
    loss = trial.suggest_categorical("loss", LOSS_CHOICES)
    if "focal" in loss:
        trial.suggest_float("focal_gamma", 0.5, 5.0)
