"""The driver side: CLI, study specs, Tune/Optuna wiring, results store and reports."""

__version__ = "0.1.0"
