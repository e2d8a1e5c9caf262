"""Every variant is declared in one module of trainables.variants and found by the registry."""

import pkgutil

import pytest
import torch

import search_spaces
import trainables.variants as variants_package
from trainables.models import build_model, count_parameters
from trainables.variants import get_variant, hyperparameter_bounds, plot_pairs, variants


def test_the_registry_finds_every_variant_module_with_baseline_first():
    modules = {m.name for m in pkgutil.iter_modules(variants_package.__path__)} - {"base"}
    assert set(variants()) == modules
    assert next(iter(variants())) == "baseline"
    with pytest.raises(KeyError, match="unknown variant 'wide'; known: baseline"):
        get_variant("wide")


@pytest.mark.parametrize("name", list(variants()))
def test_each_variant_builds_from_its_example_and_has_a_default_space(name):
    variant = get_variant(name)
    space = search_spaces.load_space(name)  # the default search space is named like the variant
    assert set(variant.hyperparameters) <= set(space.PARAMETERS)
    assert set(variant.hyperparameters) <= set(variant.example) and set(variant.bounds) <= set(variant.hyperparameters)
    model = build_model(
        "unet", name, in_channels=1, num_classes=2, params={"base_channels": 4, "depth": 2}, hyper=variant.example
    )
    model.train()
    output = model(torch.rand(2, 1, 16, 16))
    assert isinstance(output, tuple) == variant.aux_head
    assert count_parameters(model) > 0


def test_bounds_and_plot_pairs_come_from_the_variants():
    bounds = hyperparameter_bounds()
    assert bounds["frem_b"].describe(16) == "[1, 16]" and bounds["ds_lambda"].describe(16) == "[0.0, 1.0]"
    assert bounds["lr"].allows(1e-5, 1e-2, 16) and not bounds["lr"].allows(0.0, 1e-2, 16)
    assert ("frem_b", "frem_x") in plot_pairs() and ("lr", "ds_lambda") in plot_pairs()
    assert get_variant("deep_supervision").aux_weight({"ds_lambda": 0.3}) == 0.3
    assert get_variant("baseline").aux_weight({}) == 0.0
