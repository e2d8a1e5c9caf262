"""Learning rate + the bottleneck dropout rate p (the published ablation uses p = B / bottleneck channels)."""

PARAMETERS = {"lr": "float", "dropout_p": "float"}


def sample(trial, context):
    trial.suggest_float("lr", 1e-5, 1e-2, log=True)
    trial.suggest_float("dropout_p", 0.0, 0.5)
