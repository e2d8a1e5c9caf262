"""The `orchestrate` command."""

import functools
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from .errors import UserError

app = typer.Typer(
    help="Fair hyperparameter searches over U-Net-family segmentation models on Ray Tune + Ray Train + Optuna.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(log_path=False)
errors = Console(stderr=True)


class Format(str, Enum):
    markdown = "markdown"
    csv = "csv"
    latex = "latex"
    html = "html"


def user_errors(command):
    """Bad input: one line on stderr naming the problem and the fix, exit code 2, no traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except UserError as error:
            errors.print(f"[red]error:[/] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


StudyPath = Annotated[Path, typer.Argument(help="A study directory (<storage>/<study name>), as printed by `run`.")]


@app.command()
@user_errors
def validate(spec: Annotated[Path, typer.Argument(help="Study spec (YAML).")]):
    """Check a spec (datasets, architectures, variants, search spaces) without running anything."""
    from .spec import load_spec
    from .validate import validate_study

    study = load_spec(spec)
    validate_study(study)
    arms = study.arms()
    console.print(
        f"[green]ok[/] {spec}: {len(arms)} arms x {study.budget.trials_per_arm} trials x "
        f"{study.budget.epochs} epochs, optimising {study.metric} ({study.mode})"
    )
    for arm in arms:
        console.print(f"  {arm.id}  (search space: {arm.variant.space})")


def _drive(study, address: Optional[str]) -> None:
    from .compare import compare_studies
    from .runner import claim_driver, run_study

    claim_driver(study)
    console.print(f"study [bold]{study.spec.name}[/] at {study.root}  (Ray logs: {study.logs_dir})")
    try:
        finished = run_study(study, address, console)
    except KeyboardInterrupt:
        finished = False
    if not finished:
        errors.print(f"interrupted; nothing finished is lost. Continue with: orchestrate resume {study.root}")
        raise typer.Exit(130)
    console.print()
    console.print(compare_studies([study.root]))
    console.print(f"results: {study.root / 'results'}")


@app.command()
@user_errors
def run(
    spec: Annotated[Path, typer.Argument(help="Study spec (YAML).")],
    storage: Annotated[Optional[Path], typer.Option(help="Storage root; overrides the spec's `storage:`.")] = None,
    address: Annotated[
        Optional[str], typer.Option(help="Ray cluster to use (HOST:PORT, 'auto' or ray://...). Default: start a local Ray.")
    ] = None,
):
    """Run a study: every arm searched with the same trial budget; results to Parquet; prints the comparison."""
    from .spec import load_spec
    from .study import StudyDir
    from .validate import validate_study

    study_spec = load_spec(spec)
    validate_study(study_spec)
    _drive(StudyDir.create(study_spec, storage or study_spec.storage), address)


@app.command()
@user_errors
def resume(
    study: StudyPath,
    address: Annotated[Optional[str], typer.Option(help="Ray cluster to use. Default: start a local Ray.")] = None,
):
    """Continue a study after Ctrl-C or a crash: finished arms stay untouched, unfinished trials resume."""
    from .study import StudyDir

    _drive(StudyDir.open(study), address)


@app.command()
@user_errors
def status(study: StudyPath):
    """Arms of a study with trials finished, failed and unfinished, and the best so far."""
    from .status import study_status
    from .study import StudyDir

    console.print(study_status(StudyDir.open(study)), highlight=False)


@app.command()
@user_errors
def compare(
    studies: Annotated[list[Path], typer.Argument(help="One or more study directories.")],
    format: Annotated[Format, typer.Option("--format", "-f", help="Table format.")] = Format.markdown,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the table here instead of the terminal.")] = None,
):
    """Comparison table: rows architecture x variant, columns datasets, cells the best validation metric."""
    from .compare import compare_studies
    from .study import StudyDir

    opened = [StudyDir.open(path) for path in studies]
    modes = {study.spec.mode for study in opened}
    if len(modes) > 1:
        raise UserError("these studies optimise in opposite directions (max and min); compare them separately")
    table = compare_studies([study.root for study in opened], format.value, modes.pop())
    if output:
        output.write_text(table)
        console.print(f"wrote {output}")
    else:
        sys.stdout.write(table)


@app.command()
def models():
    """Registered architectures x variants with their parameter counts at default settings."""
    from trainables.models import ARCHITECTURES, VARIANTS, build_model, count_parameters

    from .tables import render

    hyper = {"frem_b": 1, "frem_x": 2.0, "ds_lambda": 0.5, "dropout_p": 0.1}
    rows = []
    for name, architecture in ARCHITECTURES.items():
        for variant in VARIANTS:
            model = build_model(name, variant, in_channels=1, num_classes=2, hyper=hyper)
            rows.append([name, variant, f"{count_parameters(model):,}"])
    console.print(render(["architecture", "variant", "parameters"], rows, "markdown"), highlight=False)
    console.print("defaults: " + "; ".join(f"{n} {a.defaults}" for n, a in ARCHITECTURES.items()), highlight=False)


if __name__ == "__main__":
    app()
