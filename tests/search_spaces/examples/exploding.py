"""A search space whose learning rate makes the loss non-finite (used to test failed trials)."""

PARAMETERS = {"lr": "float"}


def sample(trial, context):
    trial.suggest_float("lr", 1e30, 1e31, log=True)
