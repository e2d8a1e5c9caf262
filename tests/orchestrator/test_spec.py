import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.errors import UserError
from orchestrator.spec import load_spec
from orchestrator.validate import validate_study
from tests.conftest import REPO, orchestrate, tiny_spec

runner = CliRunner()


def test_demo_spec_is_valid():
    spec = load_spec(REPO / "studies" / "demo.yaml")
    validate_study(spec)
    assert [arm.id for arm in spec.arms()] == [
        "cells__unet__baseline", "cells__unet__frem", "cells__unet__deep_supervision"
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
    ],
)
def test_bad_specs_give_one_line_and_exit_code_2(write_spec, overrides, message):
    path = write_spec(tiny_spec(**overrides))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


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
    from trainables.models import ARCHITECTURES, VARIANTS

    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0
    for architecture in ARCHITECTURES:
        for variant in VARIANTS:
            assert f"| {architecture} | {variant} |" in result.output
    assert "| unet | baseline | 31,036,546 |" in result.output  # the published U-Net: 64 -> 1024 filters
