PARAMETERS = {"lr": "float", "frem_b": "int", "frem_x": "float"}


def sample(trial, context):
    trial.suggest_float("lr", 1e-4, 1e-2, log=True)
    trial.suggest_int("frem_b", 1, 4)
    trial.suggest_float("frem_x", 0.0, 10.0)
