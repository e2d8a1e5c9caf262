PARAMETERS = {"lr": "float", "ds_lambda": "float"}


def sample(trial, context):
    trial.suggest_float("lr", 1e-4, 1e-2, log=True)
    trial.suggest_float("ds_lambda", 0.0, 1.5)
