"""A study before it runs: the spec, its checks, the study folder, the data splits, each arm's trial configuration."""

from orchestrator.lazy import lazy_exports

# Names load on first use (PEP 562): the CLI imports the budget choices at start-up
# without paying for torch, optuna and the model registry.
_MODULE_OF = {
    "Budget": "budget",
    "at_budget": "budget",
    "smoke_spec": "budget",
    "fixed_hyperparameters": "checks",
    "space_context": "checks",
    "validate_study": "checks",
    "StudyDir": "folder",
    "Arm": "spec",
    "StudySpec": "spec",
    "dump_spec": "spec",
    "load_spec": "spec",
    "parse_spec": "spec",
    "compute_split": "splits",
    "data_seed": "splits",
    "trial_config": "trial_config",
}
__all__ = sorted(_MODULE_OF)
__getattr__ = lazy_exports(__name__, _MODULE_OF)
