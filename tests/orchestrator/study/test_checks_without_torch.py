"""The study's checks (every architecture's parameters and bottleneck, every variant's hyperparameters)
run without torch, so `orchestrate run` starts without loading it: torch loads only where a model is built."""

import json
import subprocess
import sys

import torch
import yaml

from orchestrator.study.spec import StudySpec
from tests.conftest import REPO
from trainables.models import build_model
from trainables.variants import get_variant

CHECK_A_STUDY = """
import json, sys
import yaml
from orchestrator.study.checks import check_fits_this_machine, space_context, validate_study
from orchestrator.study.spec import StudySpec
spec = StudySpec.model_validate(yaml.safe_load(open("studies/demo.yaml")))
validate_study(spec)
check_fits_this_machine(spec)  # a CPU study: no GPU to count
print(json.dumps([[space_context(arm)["bottleneck_channels"] for arm in spec.arms()], "torch" in sys.modules]))
"""


def test_validating_a_study_loads_no_torch():
    checked = subprocess.run([sys.executable, "-c", CHECK_A_STUDY], capture_output=True, check=True, cwd=REPO)
    channels, torch_loaded = json.loads(checked.stdout)
    assert torch_loaded is False
    # The same bottleneck widths as the models themselves have (FREM's B is bounded by them).
    spec = StudySpec.model_validate(yaml.safe_load((REPO / "studies" / "demo.yaml").read_text()))
    built = []
    for arm in spec.arms():
        hyper = get_variant(arm.variant.name).example  # what `orchestrate models` builds with
        model = build_model(arm.architecture.name, arm.variant.name, in_channels=1, num_classes=2,
                            params=dict(arm.architecture.params), hyper=hyper)  # fmt: skip
        convs = [module for module in model.bottleneck.modules() if isinstance(module, torch.nn.Conv2d)]
        built.append(convs[-1].out_channels)
    assert channels == built
