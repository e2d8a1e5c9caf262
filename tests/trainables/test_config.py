"""The typed trial configuration: built once from the spec, frozen, cheap to pickle, free of the driver."""

import ast
import dataclasses
import pickle
from pathlib import Path

import pytest

from orchestrator.study.folder import StudyDir
from orchestrator.study.spec import DatasetSpec, EvaluationSpec, ResourcesSpec, TrainingSpec, parse_spec
from orchestrator.study.trial_config import trial_config
from tests.conftest import REPO, tiny_spec
from trainables.config import DataSource, EvaluationSettings, Resources, TrainingSettings, TrialConfig
from trainables.direction import Direction


@pytest.fixture
def config(tmp_path) -> TrialConfig:
    spec = parse_spec(tiny_spec(mode="min", metric="val_loss"), "test")
    study = StudyDir.create(spec, tmp_path)
    return trial_config(study, spec.arms()[1])


def test_built_from_the_spec_with_its_defaults(config):
    assert config.arm_id == "cells__unet__frem" and config.variant == "frem" and config.search_space == "frem"
    assert config.direction is Direction.MIN and config.metric == "val_loss"
    assert config.training.epochs == 2 and config.training.batch_size == 4
    assert config.training.loss == TrainingSpec().loss and config.resources.max_failures == ResourcesSpec().max_failures
    assert config.architecture_params == {"base_channels": 4, "depth": 2}
    assert len(config.split.train) + len(config.split.val) == 16 and config.split.held_out[0] == "val"


def test_frozen_and_cheap_to_pickle(config):
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.metric = "val_miou"
    payload = pickle.dumps(config)
    assert pickle.loads(payload) == config
    assert len(payload) < 4096  # Ray ships it to every worker of every trial


def test_each_spec_section_maps_onto_its_settings_field_by_field():
    # Defaults live in the spec only: the settings classes have none, and every field comes from the spec.
    pairs = [
        (DatasetSpec, DataSource),
        (TrainingSpec, TrainingSettings),
        (ResourcesSpec, Resources),
        (EvaluationSpec, EvaluationSettings),
    ]
    for spec_class, settings_class in pairs:
        fields = dataclasses.fields(settings_class)
        assert all(f.default is dataclasses.MISSING for f in fields), settings_class
        spec_fields = set(spec_class.model_fields) - {"split"}
        assert {f.name for f in fields} - {"epochs"} == spec_fields, settings_class


def test_sampled_hyperparameters_override_the_spec_settings(config):
    sampled = config.training.with_sampled({"lr": 0.1, "loss": "dice", "augmentation": "flips"})
    assert (sampled.loss, sampled.augmentation, sampled.focal_gamma) == ("dice", "flips", config.training.focal_gamma)
    assert config.training.loss == "ce"  # the original is unchanged


def test_trial_seed_depends_on_the_arm_and_the_sampled_configuration_only(config):
    assert config.trial_seed({"lr": 0.1}) == config.trial_seed({"lr": 0.1})
    assert config.trial_seed({"lr": 0.1}) != config.trial_seed({"lr": 0.2})
    other = dataclasses.replace(config, arm_id="cells__unet__baseline")
    assert other.trial_seed({"lr": 0.1}) != config.trial_seed({"lr": 0.1})


def test_code_that_runs_in_a_trial_never_imports_the_driver():
    for path in (REPO / "trainables").rglob("*.py"):
        for node in ast.walk(ast.parse(Path(path).read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(name.split(".")[0] == "orchestrator" for name in names), path
