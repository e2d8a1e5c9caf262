import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.errors import UserError
from orchestrator.study.checks import fixed_hyperparameters, validate_study
from orchestrator.study.spec import load_spec
from tests.conftest import REPO, orchestrate, tiny_spec
from trainables.models import bottleneck_channels

runner = CliRunner()
STEEL_STAND_IN = {"name": "steel", "kind": "synthetic", "shape": "defects"}


def test_demo_spec_is_valid():
    spec = load_spec(REPO / "studies" / "demo.yaml")
    validate_study(spec)
    assert [arm.id for arm in spec.arms()] == [
        "cells__unet__baseline",
        "cells__unet__frem",
        "cells__unet__deep_supervision",
    ]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"architectures": ["unet3000"]}, "unknown architecture 'unet3000'"),
        ({"architectures": [{"name": "unet", "params": {"width": 3}}]}, "no parameter(s) width"),
        ({"variants": ["sparkles"]}, "unknown variant 'sparkles'"),
        ({"variants": [{"name": "frem", "search_space": "nope"}]}, "unknown search space 'nope'"),
        ({"variants": [{"name": "frem", "search_space": "baseline"}]}, "needs frem_b, frem_x"),
        ({"datasets": [{"name": "em", "path": "does/not/exist"}]}, "does not exist"),
        ({"datasets": [{"name": "em", "kind": "mystery"}]}, "datasets.0.kind"),
        ({"budget": {"trials_per_arm": -1, "epochs": 1}}, "budget.trials_per_arm: Input should be greater than 0"),
        ({"metric": "val_accuracy"}, "metric 'val_accuracy' is not reported"),
        ({"variants": ["frem", "frem"]}, "variant 'frem' is listed twice"),
        ({"training": {"loss": "hinge"}}, "unknown loss 'hinge'"),
        ({"training": {"loss": {"ce": 0.5, "lovasz": 0.5}}}, "unknown loss 'lovasz'"),
        (
            {"datasets": [{"name": "c", "kind": "synthetic", "split": {"fold": 1}}]},
            "`fold:` picks one of K folds and needs `folds: K`",
        ),
        (
            {"datasets": [{"name": "c", "kind": "synthetic", "split": {"folds": 2, "fold": 2}}]},
            "need folds >= 2 and 0 <= fold < folds",
        ),
        ({"compare": {"columns": []}}, "compare.columns: Extra inputs are not permitted"),
        ({"compare": {"metrics": ["miou", "iou_dragon"]}}, "compare.metrics: 'iou_dragon' is not a test metric"),
        ({"compare": {"reference": "nowhere.csv"}}, "nowhere.csv not found"),
        ({"variants": [{"name": "dropout", "fixed": {"frem_b": 3}}]}, "fixes 'frem_b', which the space does not"),
        ({"variants": [{"name": "frem", "fixed": {"frem_b": 2.5}}]}, "fixes 'frem_b' at 2.5, but the space declares"),
        ({"variants": [{"name": "frem", "fixed": {"frem_b": 99}}]}, "fixed frem_b=99 is outside the allowed [1, 16]"),
        ({"variants": [{"name": "frem", "trials": 0}]}, "variants.0.trials: Input should be greater than 0"),
        ({"training": {"output": "sigmoid"}}, "a sigmoid output trains with a binary loss (bce, binary_focal"),
        ({"training": {"output": "tanh"}}, "training.output: Input should be 'softmax', 'sigmoid' or 'multilabel'"),
        ({"evaluation": {"threshold_rows": {"t9": 0.9}}}, "move them into that variant's `evaluation:`"),
        (
            {"variants": [{"name": "baseline", "evaluation": {"threshold_rows": {"baseline": 0.9}}}]},
            "variant 'baseline' is listed twice",
        ),
        (
            {"variants": [{"name": "baseline", "evaluation": {"threshold_rows": {"t": 1.5}}}]},
            "threshold_rows.t: Input should be less than 1",
        ),
        ({"variants": [{"name": "frem", "training": {"loss": "hinge"}}]}, "unknown loss 'hinge'"),
        ({"variants": ["baseline", {"name": "baseline", "training": {}}]}, "variant 'baseline' is listed twice"),
        ({"training": {"output": "multilabel"}}, "multilabel needs a multi-label dataset ('cells' is single-label)"),
        (
            {"datasets": [STEEL_STAND_IN]},
            "dataset 'steel' is multi-label (classes may overlap); set training.output: multilabel",
        ),
        (
            {"datasets": [STEEL_STAND_IN], "training": {"output": "multilabel"}},
            "a multilabel output trains with bce or dice, not 'ce'",
        ),
        (
            {
                "datasets": [STEEL_STAND_IN],
                "training": {"output": "multilabel", "loss": "bce", "stochastic_width": True},
            },
            "threshold_sweep and stochastic_width need a binary dataset; 'steel' is multi-label",
        ),
    ],
)
def test_bad_specs_give_one_line_and_exit_code_2(write_spec, overrides, message):
    path = write_spec(tiny_spec(**overrides))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_folds_make_one_arm_per_fold_unless_one_fold_is_picked(write_spec):
    every = load_spec(
        write_spec(tiny_spec(datasets=[{"name": "c", "kind": "synthetic", "split": {"folds": 3}}]), "a.yaml")
    )
    assert [arm.id for arm in every.arms()][:3] == [
        "c__unet__baseline__fold0",
        "c__unet__frem__fold0",
        "c__unet__baseline__fold1",
    ]
    one = load_spec(
        write_spec(tiny_spec(datasets=[{"name": "c", "kind": "synthetic", "split": {"folds": 3, "fold": 2}}]), "b.yaml")
    )
    assert [arm.id for arm in one.arms()] == ["c__unet__baseline__fold2", "c__unet__frem__fold2"]


def test_a_binary_loss_on_a_multiclass_dataset_is_refused(tmp_path, write_spec):
    root = tmp_path / "four"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    import numpy as np
    import yaml
    from PIL import Image

    for i in range(4):
        Image.fromarray(np.full((16, 16), 100, np.uint8)).save(root / "images" / f"{i}.png")
        Image.fromarray((np.arange(256).reshape(16, 16) % 4).astype(np.uint8)).save(root / "masks" / f"{i}.png")
    (root / "dataset.yaml").write_text(
        yaml.safe_dump({"name": "four", "channels": 1, "classes": [{"name": f"c{v}", "value": v} for v in range(4)]})
    )
    path = write_spec(
        tiny_spec(datasets=[{"name": "four", "path": str(root), "split": {"val": 1}}], training={"loss": "bce"})
    )
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and "'bce' is a binary loss but dataset 'four' has 4 classes" in result.output
    sigmoid = {"name": "baseline", "training": {"output": "sigmoid", "loss": "ce"}}
    four = [{"name": "four", "path": str(root), "split": {"val": 1}}]
    path = write_spec(tiny_spec(datasets=four, variants=[sigmoid]))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and "sigmoid needs a binary dataset ('four' has 4 classes)" in result.output


def test_malformed_yaml_names_the_line(write_spec, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ndatasets: [\n  {name: a\n")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and "malformed YAML at line" in result.output


def test_missing_spec_file():
    result = runner.invoke(app, ["validate", "nowhere.yaml"])
    assert result.exit_code == 2 and "not found" in result.output


def test_a_spec_must_be_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(UserError, match="must be a YAML mapping"):
        load_spec(path)


def test_run_with_an_address_where_no_cluster_listens(write_spec, tmp_path):
    # A real process, as a user runs it: one line on stderr, exit 2, no traceback, nothing started.
    path = write_spec(tiny_spec())
    result = orchestrate("run", path, "--storage", tmp_path / "runs", "--address", "127.0.0.1:9", timeout=120)
    assert result.returncode == 2, result.stderr
    assert "no Ray cluster answers at 127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_resume_of_a_folder_that_is_not_a_study(tmp_path):
    result = runner.invoke(app, ["resume", str(tmp_path)])
    assert result.exit_code == 2 and "is not a study directory" in result.output


def test_every_command_has_help():
    for command in ["validate", "run", "resume", "status", "compare", "models"]:
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_models_lists_every_architecture_and_variant_with_parameters():
    from trainables.models import ARCHITECTURES, variants

    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0
    for architecture in ARCHITECTURES:
        for variant in variants():
            assert f"| {architecture} | {variant} |" in result.output
    assert "| unet | baseline | 31,036,546 |" in result.output  # the published U-Net: 64 -> 1024 filters


PRESETS = ["frem", "full-attention-unet", "em-attention", "coredeep", "steel-defects"]
COUNTS = ("image_false", "trainable_parameters", "parameters")  # published numbers that are not rates


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_has_a_published_number_for_each_arm_and_column_of_its_table(name):
    from orchestrator.reports.references import load_references, metric_column

    spec = load_spec(REPO / "studies" / f"{name}.yaml")
    references = load_references(Path(spec.compare.reference))
    rates = {
        key: value
        for key, value in references.items()
        if key[3] in spec.compare.metrics and not key[3].startswith(COUNTS)
    }
    assert spec.compare.metrics and all(0 < value <= 1 for value in rates.values())
    for arm in spec.arms():
        for row in arm.variant.row_keys():  # threshold rows are rows of the paper's table too
            for metric in spec.compare.metrics:
                assert (arm.architecture.key, row, arm.dataset.name, metric_column(metric)) in references


def test_the_frem_preset_follows_the_paper():
    spec = load_spec(REPO / "studies" / "frem.yaml")
    assert spec.budget.epochs == 2000  # 001 §4.3: all methods are trained for 2000 epochs
    (architecture,) = spec.architectures
    assert bottleneck_channels(architecture.name, architecture.params) == 512  # 001 §4.2
    arms = {arm.variant.key: arm for arm in spec.arms()}
    # 001 §4.3: B and X searched 50 times, lambda 15 times, the baseline and the ablations not at all
    assert {key: arm.trials for key, arm in arms.items()} == {
        "baseline": 1,
        "no_deep_layers": 1,
        "deep_supervision": 15,
        "dropout": 1,
        "frem": 50,
    }
    assert fixed_hyperparameters(arms["dropout"])["dropout_p"] == 8 / 512  # the rate B/512 of the FREM arm
    assert spec.training.loss == "ce" and arms["frem"].training.loss == "ce"  # softmax cross entropy


def test_the_full_attention_unet_preset_follows_the_paper():
    spec = load_spec(REPO / "studies" / "full-attention-unet.yaml")
    assert [a.name for a in spec.architectures] == [
        "unet",
        "attention_unet",
        "advanced_attention_unet",
        "full_attention_unet",
    ]
    # 000 "Verification and Competitive Study": epoch 50, batch size 2, learning rate 1e-5, the same for all
    assert (spec.budget.epochs, spec.training.batch_size) == (50, 2)
    assert all(arm.trials == 1 and fixed_hyperparameters(arm) == {"lr": 1e-5} for arm in spec.arms())
    assert spec.training.output == "sigmoid" and spec.training.loss == "bce"  # "Loss Function": BCE with logits
    assert spec.compare.metrics == ["miou"]  # Table 1


def test_the_em_attention_preset_follows_the_thesis():
    spec = load_spec(REPO / "studies" / "em-attention.yaml")
    assert [a.name for a in spec.architectures] == ["unet", "attention_unet", "attention_residual_unet"]
    assert (spec.budget.epochs, spec.training.batch_size) == (50, 8)  # 004 §3.5.2
    assert spec.training.output == "sigmoid" and spec.training.loss == "binary_focal"  # 004 §3.5.1, §3.5.2
    assert spec.training.augmentation == "geometric"  # 004 §3.4
    (arm, *_) = spec.arms()
    assert arm.trials == 1 and fixed_hyperparameters(arm) == {"lr": 0.01}  # 004 §3.5.2, §3.6.1: nothing searched
    assert spec.evaluation.checkpoint == "last"  # 004 §3.6: the model after its 50th epoch


def test_every_reference_file_the_readme_cites_exists():
    cited = re.findall(r"studies/references/[\w.-]+\.csv", (REPO / "README.md").read_text())
    assert cited and all((REPO / path).is_file() for path in cited)


def test_the_final_evaluation_is_argmax_unless_a_protocol_asks_for_a_threshold(write_spec):
    # 000 Table 1: plain softmax predictions; 002: a validation-picked or fixed threshold.
    default = load_spec(write_spec(tiny_spec())).evaluation.settings()
    assert not default.threshold_sweep and default.threshold is None
    fixed = load_spec(write_spec(tiny_spec(evaluation={"threshold": 0.95}))).evaluation.settings()
    assert fixed.threshold == 0.95
    result = orchestrate("validate", write_spec(tiny_spec(evaluation={"threshold": 0.9, "threshold_sweep": True})))
    assert result.returncode == 2 and "not both" in result.stderr and "Traceback" not in result.stderr


def test_an_arm_may_override_the_study_settings_and_its_budget(write_spec):
    # 001 §4.3: dropout at a fixed rate B/512, SuperVision with its own (smaller) TPE budget;
    # 002: one variant listed at several settings under labels.
    variants = [
        {"name": "dropout", "fixed": {"dropout_p": 8 / 512}, "trials": 1},
        {"name": "deep_supervision", "trials": 15},
        {"name": "baseline", "label": "baseline_plus", "training": {"augmentation": "geometric", "loss": "dice"}},
        {"name": "baseline", "evaluation": {"threshold": 0.95}},
    ]
    spec = load_spec(write_spec(tiny_spec(variants=variants, budget={"trials_per_arm": 50, "epochs": 2})))
    validate_study(spec)
    arms = {arm.variant.key: arm for arm in spec.arms()}
    assert {key: arm.trials for key, arm in arms.items()} == {
        "dropout": 1,
        "deep_supervision": 15,
        "baseline_plus": 50,
        "baseline": 50,
    }
    assert spec.budgets_differ()
    assert fixed_hyperparameters(arms["dropout"]) == {"dropout_p": 0.015625}
    assert arms["baseline_plus"].training.augmentation == "geometric" and arms["baseline_plus"].training.loss == "dice"
    assert arms["baseline"].training.augmentation == "none" and arms["baseline"].evaluation.threshold == 0.95
    assert arms["baseline_plus"].evaluation.threshold is None
    assert arms["baseline_plus"].id == "cells__unet__baseline_plus"
    assert spec.training.augmentation == "none"  # the study's own settings are untouched


def test_fixed_hyperparameters_are_never_searched():
    import optuna

    import search_spaces

    space = search_spaces.load_space("frem")
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    for _ in range(5):
        trial = study.ask()
        constants = search_spaces.sample(space, trial, {"bottleneck_channels": 512}, {"frem_b": 162})
        assert constants == {"frem_b": 162} and set(trial.params) == {"lr", "frem_x"}
        study.tell(trial, 0.5)


@pytest.mark.parametrize("name", PRESETS)
def test_smoke_budget_keeps_every_arm_and_its_settings_and_shrinks_the_cost(name):
    from orchestrator.study.budget import Budget, at_budget

    full = load_spec(REPO / "studies" / f"{name}.yaml")
    smoke = at_budget(full, Budget.SMOKE)
    assert at_budget(full, Budget.FULL) is full and smoke.name == f"{name}-smoke"
    # every arm, of the first fold where the protocol has folds (003: 8 encoders x 5 folds -> 8 arms)
    full_arms = [arm for arm in full.arms() if arm.fold in (None, 0)]
    assert [arm.id for arm in smoke.arms()] == [arm.id for arm in full_arms]
    for small, big in zip(smoke.arms(), full_arms, strict=True):
        assert small.trials == 1 and small.variant.fixed == big.variant.fixed
        assert small.training.loss == big.training.loss and small.training.output == big.training.output
        assert small.dataset.split.model_dump(exclude={"fold"}) == big.dataset.split.model_dump(exclude={"fold"})
        assert small.evaluation == big.evaluation
    assert smoke.budget.epochs <= 2 and smoke.resources.gpus_per_worker == 0
    assert all(a.params.get("base_channels", 4) == 4 for a in smoke.architectures)
    assert smoke.compare == full.compare


def test_a_local_study_asking_for_a_gpu_this_machine_lacks_is_refused_before_anything_waits(tmp_path, write_spec):
    import torch

    from tests.conftest import orchestrate, tiny_spec

    gpus = torch.cuda.device_count()
    spec = write_spec(tiny_spec("gpu", resources={"workers": 1, "cpus_per_worker": 1, "gpus_per_worker": gpus + 1}))
    result = orchestrate("run", spec, "--storage", tmp_path / "runs", timeout=120)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"{gpus + 1:g} GPU" in lines[0] and "this machine has" in lines[0] and "--address" in lines[0]
    assert not (tmp_path / "runs" / "gpu").exists()  # no study folder left behind to resume
