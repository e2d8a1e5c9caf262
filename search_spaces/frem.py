"""Learning rate + the Feature Random Enhancement Module's B and X (Ando & Hotta 2021)."""

PARAMETERS = {"lr": "float", "frem_b": "int", "frem_x": "float"}


def sample(trial, context):
    trial.suggest_float("lr", 1e-5, 1e-2, log=True)
    trial.suggest_int("frem_b", 1, context["bottleneck_channels"])
    trial.suggest_float("frem_x", 1.0, 1e4, log=True)
