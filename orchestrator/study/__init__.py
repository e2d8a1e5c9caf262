"""A study before it runs: the spec, its checks, the study folder, the data splits, each arm's trial configuration."""

from orchestrator.study.checks import space_context, validate_study
from orchestrator.study.folder import StudyDir
from orchestrator.study.spec import Arm, StudySpec, dump_spec, load_spec, parse_spec
from orchestrator.study.splits import compute_split, data_seed
from orchestrator.study.trial_config import trial_config

__all__ = [
    "Arm",
    "StudyDir",
    "StudySpec",
    "compute_split",
    "data_seed",
    "dump_spec",
    "load_spec",
    "parse_spec",
    "space_context",
    "trial_config",
    "validate_study",
]
