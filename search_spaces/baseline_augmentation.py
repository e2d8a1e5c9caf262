"""Learning rate + the augmentation policy (see trainables.augment)."""

PARAMETERS = {"lr": "float", "augmentation": "str"}


def sample(trial, context):
    trial.suggest_float("lr", 1e-5, 1e-2, log=True)
    trial.suggest_categorical("augmentation", ["none", "flips", "two_of_list", "geometric"])
