"""Learning rate + the deep-supervision weight λ in (1-λ)·L_final + λ·L_aux."""

PARAMETERS = {"lr": "float", "ds_lambda": "float"}


def sample(trial, context):
    trial.suggest_float("lr", 1e-5, 1e-2, log=True)
    trial.suggest_float("ds_lambda", 0.0, 1.0)
