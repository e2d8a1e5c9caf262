"""Building each arm's typed ``TrialConfig`` from the study spec: the one place spec settings reach trials."""

from orchestrator.study.folder import StudyDir
from orchestrator.study.spec import Arm
from orchestrator.study.splits import data_seed
from trainables.config import DataSplit, TrialConfig


def trial_config(study: StudyDir, arm: Arm) -> TrialConfig:
    """Everything a trial of this arm (and the arm's final evaluation) needs besides its sampled hyperparameters."""
    spec = study.spec
    split = study.split(arm.dataset, arm.fold)  # the same for every arm of the dataset
    return TrialConfig(
        study=spec.name,
        arm_id=arm.id,
        seed=spec.seed,
        data=arm.dataset.source(),
        data_seed=data_seed(spec, arm.dataset),
        split=DataSplit(tuple(split["train"]), tuple(split["val"]), tuple(split["test"])),
        fold=arm.fold,
        architecture=arm.architecture.name,
        architecture_key=arm.architecture.key,
        architecture_params=dict(arm.architecture.params),
        variant=arm.variant.name,
        variant_key=arm.variant.key,
        search_space=arm.variant.space,
        training=arm.training.settings(spec.budget.epochs),
        resources=spec.resources.settings(),
        evaluation=arm.evaluation.settings(),
        metric=spec.metric,
        direction=spec.mode,
        train_storage=study.train_storage,
        stopped_mid_run=spec.stops_trials_mid_run,
    )
