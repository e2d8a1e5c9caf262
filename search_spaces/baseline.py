"""Learning rate only."""

PARAMETERS = {"lr": "float"}


def sample(trial, context):
    trial.suggest_float("lr", 1e-5, 1e-2, log=True)
