"""The study's checks (every architecture's parameters and bottleneck, every variant's hyperparameters)
run without torch, so `orchestrate run` starts without loading it: torch loads only where a model is built."""

import json
import subprocess
import sys

import pytest
import torch
import yaml

from orchestrator.study.spec import StudySpec
from tests.conftest import REPO
from trainables.models import SmpUNet, build_model
from trainables.variants import get_variant

CHECK_A_STUDY = """
import json, sys
import yaml
from orchestrator.study.checks import check_fits_this_machine, space_context, validate_study
from orchestrator.study.spec import StudySpec
spec = StudySpec.model_validate(yaml.safe_load(open(sys.argv[1])))
validate_study(spec)
check_fits_this_machine(spec)  # a CPU study: no GPU to count
print(json.dumps([[space_context(arm)["bottleneck_channels"] for arm in spec.arms()], "torch" in sys.modules]))
"""


# smp encoders, one of them shallower than its default: their widths come from a copy of smp's table
SMP_STUDY = {
    "name": "encoders",
    "datasets": [{"name": "cells", "kind": "synthetic", "channels": 3, "num_images": 8, "image_size": 32}],
    "architectures": [
        {"name": "smp_unet", "label": "resnet18", "params": {"encoder": "resnet18"}},
        {"name": "smp_unet", "label": "b0", "params": {"encoder": "efficientnet-b0", "encoder_depth": 4}},
    ],
    "variants": ["baseline", "frem"],
    "budget": {"trials_per_arm": 1, "epochs": 1},
}


@pytest.fixture(params=["demo", "smp"])
def spec_file(request, tmp_path):
    if request.param == "demo":
        return REPO / "studies" / "demo.yaml"
    path = tmp_path / "smp.yaml"
    path.write_text(yaml.safe_dump(SMP_STUDY))
    return path


def test_validating_a_study_loads_no_torch(spec_file):
    checked = subprocess.run(
        [sys.executable, "-c", CHECK_A_STUDY, spec_file], capture_output=True, check=True, cwd=REPO
    )
    channels, torch_loaded = json.loads(checked.stdout)
    assert torch_loaded is False
    # The same bottleneck widths as the models themselves have (FREM's B is bounded by them).
    spec = StudySpec.model_validate(yaml.safe_load(spec_file.read_text()))
    built = []
    for arm in spec.arms():
        hyper = get_variant(arm.variant.name).example  # what `orchestrate models` builds with
        model = build_model(arm.architecture.name, arm.variant.name, in_channels=spec.datasets[0].channels or 1,
                            num_classes=2, params=dict(arm.architecture.params), hyper=hyper)  # fmt: skip
        built.append(_bottleneck_channels(model))
    assert channels == built


def _bottleneck_channels(model: torch.nn.Module) -> int:
    if isinstance(model, SmpUNet):  # the deepest feature of smp's encoder, at its encoder_depth
        return model.model.encoder.out_channels[-1]
    return [module for module in model.bottleneck.modules() if isinstance(module, torch.nn.Conv2d)][-1].out_channels
