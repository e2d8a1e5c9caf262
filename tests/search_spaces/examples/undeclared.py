PARAMETERS = {"lr": "float"}


def sample(trial, context):
    trial.suggest_float("lr", 1e-4, 1e-2, log=True)
    trial.suggest_int("batch_size", 2, 8)
