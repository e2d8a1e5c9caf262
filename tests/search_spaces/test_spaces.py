import functools

import optuna
import pytest
from optuna.samplers import TPESampler

import search_spaces
from orchestrator.run.optuna_storage import tell_deferred
from orchestrator.run.tuning import StudyOptunaSearch, _sample


@pytest.mark.parametrize("name", search_spaces.builtin_spaces())
def test_builtin_spaces_sample_only_declared_parameters_in_range(name):
    space = search_spaces.load_space(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        space.sample(trial, {"bottleneck_channels": 32})
        assert set(trial.params) <= set(space.PARAMETERS)
        assert 1e-5 <= trial.params["lr"] <= 1e-2
        if "frem_b" in trial.params:
            assert 1 <= trial.params["frem_b"] <= 32 and 1 <= trial.params["frem_x"] <= 1e4
        if "ds_lambda" in trial.params:
            assert 0 <= trial.params["ds_lambda"] <= 1


def test_required_spaces_exist():
    assert {"baseline", "frem", "deep_supervision"} <= set(search_spaces.builtin_spaces())


def _suggestions(seed: int, count: int = 6) -> list[dict]:
    searcher = StudyOptunaSearch(
        space=functools.partial(_sample, "frem", {"bottleneck_channels": 64}, {}),
        metric="val_miou",
        mode="max",
        sampler=TPESampler(seed=seed),
        epochs=2,
    )
    return [searcher.suggest(f"t{i}") for i in range(count)]


def test_same_seed_gives_the_same_sampled_configurations():
    first = _suggestions(seed=11)
    assert first == _suggestions(seed=11)
    assert first != _suggestions(seed=12)
    assert set(first[0]) == {"lr", "frem_b", "frem_x"}


def test_early_stopped_and_errored_trials_are_not_told_as_complete():
    searcher = StudyOptunaSearch(
        space=functools.partial(_sample, "baseline", {}, {}),
        metric="val_miou",
        mode="max",
        sampler=TPESampler(seed=0),
        epochs=4,
    )
    for trial_id in ("stopped", "errored", "done"):
        searcher.suggest(trial_id)
    searcher.on_trial_complete("stopped", {"val_miou": 0.5, "epoch": 2})
    searcher.on_trial_complete("errored", {"val_miou": 0.7, "epoch": 3}, error=True)
    searcher.on_trial_complete("done", {"val_miou": 0.6, "epoch": 4})
    # Optuna hears nothing until the recorder has written each trial's row (then it calls tell_deferred).
    assert {t.state for t in searcher._ot_study.trials} == {optuna.trial.TrialState.RUNNING}
    for trial_id in ("stopped", "errored", "done"):
        tell_deferred(trial_id)
    states = [t.state for t in searcher._ot_study.trials]
    assert states == [optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE]


def test_a_trial_ended_by_its_early_stopping_rule_is_complete_and_fixed_values_reach_its_config():
    searcher = StudyOptunaSearch(
        space=functools.partial(_sample, "frem", {"bottleneck_channels": 512}, {"frem_b": 8}),
        metric="val_miou",
        mode="max",
        sampler=TPESampler(seed=0),
        epochs=10,
    )
    config = searcher.suggest("early")
    assert config["frem_b"] == 8 and set(config) == {"lr", "frem_b", "frem_x"}
    searcher.on_trial_complete("early", {"val_miou": 0.5, "epoch": 3, "stopped_early": True})
    tell_deferred("early")
    (trial,) = searcher._ot_study.trials
    assert trial.state == optuna.trial.TrialState.COMPLETE and "frem_b" not in trial.params
