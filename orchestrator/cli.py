"""The `orchestrate` command."""

import contextlib
import functools
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from orchestrator.errors import UserError
from orchestrator.reports.render import FORMATS
from orchestrator.study.budget import Budget

app = typer.Typer(
    help="Fair hyperparameter searches over U-Net-family segmentation models on Ray Tune + Ray Train + Optuna.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(log_path=False)
errors = Console(stderr=True)


# The table formats, as the choices of --format (the renderer is their one source).
Format = StrEnum("Format", {name: name for name in FORMATS})


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
StudyLocation = Annotated[
    str, typer.Argument(help="A study directory as printed by `run`, or a copy of it in an object store (s3://...).")
]
StudyLocations = Annotated[
    list[str], typer.Argument(help="One or more study directories, or their copies in an object store (s3://...).")
]


@app.command()
@user_errors
def validate(spec: Annotated[Path, typer.Argument(help="Study spec (YAML).")]):
    """Check a spec (datasets, architectures, variants, search spaces) without running anything."""
    from orchestrator.study.checks import validate_study
    from orchestrator.study.spec import load_spec

    study = load_spec(spec)
    validate_study(study)
    arms = study.arms()
    console.print(
        f"[green]ok[/] {spec}: {len(arms)} arms x {_trial_budgets(arms)} trials x "
        f"{study.budget.epochs} epochs, optimising {study.metric} ({study.mode})"
    )
    for arm in arms:
        fixed = f", fixed {arm.variant.fixed}" if arm.variant.fixed else ""
        console.print(f"  {arm.id}  ({arm.trials} trials, search space: {arm.variant.space}{fixed})", highlight=False)


def _trial_budgets(arms) -> str:
    """ "50", or "15 to 50" when arms have budgets of their own."""
    budgets = sorted({arm.trials for arm in arms})
    return str(budgets[0]) if len(budgets) == 1 else f"{budgets[0]} to {budgets[-1]}"


def _drive(study, address: str | None, mirror=None) -> None:
    """Run the study to its end; ``mirror``: the StudyMirror that pushes its working copy to an object store."""
    from orchestrator.reports.compare import CompareOptions, compare_studies
    from orchestrator.run.lock import claim_driver
    from orchestrator.run.storage_health import raise_if_unwritable
    from orchestrator.run.study_run import run_study

    claim_driver(study)
    console.print(f"study [bold]{study.spec.name}[/] at {study.shown_as}  (Ray logs: {study.logs_dir})")
    try:
        with mirror.pushing() if mirror else contextlib.nullcontext():
            finished = run_study(study, address, console)
    except KeyboardInterrupt:
        finished = False
    except Exception:
        raise_if_unwritable(study.root)  # full or read-only storage: one line, not the traceback
        raise
    if not finished:
        errors.print(
            f"interrupted; nothing finished is lost. Continue with: orchestrate resume {study.shown_as}",
            soft_wrap=True,
        )
        raise typer.Exit(130)
    console.print()
    table = compare_studies([study], CompareOptions().with_study_layout(study))
    console.print(table, highlight=False, markup=False, soft_wrap=True)  # keep table rows whole
    console.print(f"results: {study.shown_as}/results")


CheckpointStorage = Annotated[
    str | None,
    typer.Option(help="Where trial checkpoints go (s3://bucket/prefix, or an absolute folder); overrides the spec's."),
]


@app.command()
@user_errors
def run(
    spec: Annotated[Path, typer.Argument(help="Study spec (YAML).")],
    storage: Annotated[str | None, typer.Option(help="A folder, the storage root; overrides `storage:`.")] = None,
    address: Annotated[
        str | None,
        typer.Option(help="Ray cluster to use (HOST:PORT, 'auto' or ray://...). Default: start a local Ray."),
    ] = None,
    budget: Annotated[
        Budget,
        typer.Option(help="full: the spec as written; smoke: every arm, shrunk to minutes on a CPU (<name>-smoke)."),
    ] = Budget.FULL,
    checkpoint_storage: CheckpointStorage = None,
):
    """Run a study: every arm searched with the same trial budget; results to Parquet; prints the comparison."""
    from orchestrator.study.budget import at_budget
    from orchestrator.study.checkpoint_storage import check_checkpoint_storage
    from orchestrator.study.checks import validate_study
    from orchestrator.study.folder import StudyDir
    from trainables.storage import is_uri

    study_spec = at_budget(_load_spec(spec, checkpoint_storage), budget)
    validate_study(study_spec)
    _check_can_start(study_spec, address)  # before the study folder exists: a retry starts clean
    root = storage or study_spec.storage
    if is_uri(root):
        _run_in_object_store(study_spec, root, address)
        return
    StudyDir.check_new(study_spec, root)  # a study that exists points to resume, before the bucket is asked
    check_checkpoint_storage(study_spec, new_study=True)
    _drive(StudyDir.create(study_spec, root), address)


def _run_in_object_store(study_spec, root: str, address: str | None) -> None:
    """`run` with a storage URI: the study's working copy pushed to <root>/<name>, its checkpoints there too."""
    from orchestrator.study.checkpoint_storage import check_checkpoint_storage
    from orchestrator.study.folder import StudyDir
    from orchestrator.study.mirror import StudyMirror
    from trainables.storage import join

    mirror = StudyMirror.at(join(root, study_spec.name))
    mirror.start_new()
    if not study_spec.checkpoint_storage:  # Ray Train writes to <root>/<name>/train, inside the study
        study_spec = study_spec.model_copy(update={"checkpoint_storage": root})
    check_checkpoint_storage(study_spec, new_study=True)
    mirror.claim()
    created = StudyDir.create(study_spec, mirror.local.parent)
    _drive(StudyDir(created.root, shown_as=mirror.uri), address, mirror)


def _load_spec(path: Path, checkpoint_storage: str | None):
    """The spec, with --checkpoint-storage in place of its `checkpoint_storage:` where given."""
    from orchestrator.study.spec import load_spec, parse_spec

    spec = load_spec(path)
    if checkpoint_storage is None:
        return spec
    data = {**spec.model_dump(mode="json"), "checkpoint_storage": checkpoint_storage}
    return parse_spec(data, "--checkpoint-storage")


@app.command()
@user_errors
def resume(
    study: StudyLocation,
    address: Annotated[str | None, typer.Option(help="Ray cluster to use. Default: start a local Ray.")] = None,
):
    """Continue a study after Ctrl-C or a crash: finished arms stay untouched, unfinished trials resume."""
    from orchestrator.study.folder import StudyDir
    from orchestrator.study.mirror import StudyMirror
    from trainables.storage import is_uri

    if not is_uri(study):
        opened = StudyDir.open(study)
        _check_resumable(opened, address)
        _drive(opened, address)
        return
    mirror = StudyMirror.at(study)
    mirror.claim()  # before the working copy is touched: another driver may be using it
    try:
        mirror.start_resume()
        opened = StudyDir(mirror.local, shown_as=mirror.uri)
        _check_resumable(opened, address)
    except BaseException:
        mirror.release()
        raise
    _drive(opened, address, mirror)


def _check_resumable(opened, address: str | None) -> None:
    from orchestrator.study.checkpoint_storage import check_checkpoint_storage
    from orchestrator.study.checks import validate_study

    validate_study(opened.spec)  # the data may have moved or changed since the study started
    _check_can_start(opened.spec, address)
    check_checkpoint_storage(opened.spec, new_study=False)


def _check_can_start(spec, address: str | None) -> None:
    """A cluster that answers and has (or can add) a node for a trial's worker, or a machine that holds a trial."""
    from orchestrator.run.cluster_capacity import check_cluster_can_run
    from orchestrator.run.ray_session import check_reachable
    from orchestrator.study.checks import check_fits_this_machine

    if address:
        check_reachable(address)
        check_cluster_can_run(spec, address)
    else:
        check_fits_this_machine(spec)


JobsAddress = Annotated[
    str,
    typer.Option(envvar="RAY_API_SERVER_ADDRESS", help="The cluster's Ray Jobs API: its dashboard, http://HEAD:8265."),
]
JobId = Annotated[str, typer.Argument(help="A submission id, as printed by `submit` or listed by `jobs`.")]


@app.command()
@user_errors
def submit(
    spec: Annotated[Path, typer.Argument(help="Study spec (YAML).")],
    storage: Annotated[
        str | None, typer.Option(help="Storage root on the driver's node (an absolute folder); overrides `storage:`.")
    ] = None,
    address: JobsAddress = "http://127.0.0.1:8265",
    budget: Annotated[Budget, typer.Option(help="full or smoke, as for `run`.")] = Budget.FULL,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the study (after `stop` or a crash).")] = False,
    driver_resource: Annotated[
        str | None,
        typer.Option(help="A custom resource only the head has (cluster.yaml: study_driver): the driver runs there."),
    ] = None,
    checkpoint_storage: CheckpointStorage = None,
):
    """Submit a study to a cluster as a Ray Job and return at once; prints the job's submission id."""
    from orchestrator.jobs.client import jobs_api
    from orchestrator.jobs.client import submit as submit_job
    from orchestrator.jobs.submission import plan_job
    from orchestrator.study.budget import at_budget

    study_spec = at_budget(_load_spec(spec, checkpoint_storage), budget)
    plan = plan_job(study_spec, storage or study_spec.storage, resume, budget.value, driver_resource)
    with jobs_api(address) as client:
        submission_id = submit_job(client, plan, study_spec)
    console.print(f"submitted {study_spec.name} as job [bold]{submission_id}[/] to {address}", highlight=False)
    console.print(f"follow it: orchestrate logs {submission_id} --follow --address {address}", highlight=False)


@app.command()
@user_errors
def jobs(address: JobsAddress = "http://127.0.0.1:8265"):
    """The studies submitted to a cluster, with their state."""
    from orchestrator.jobs.client import job_rows, jobs_api
    from orchestrator.reports.render import render

    with jobs_api(address) as client:
        rows = [[row.submission_id, row.status, row.started, row.minutes] for row in job_rows(client)]
    console.print(render(["job", "status", "started", "minutes"], rows, "markdown"), highlight=False, markup=False)


@app.command()
@user_errors
def logs(
    job: JobId,
    address: JobsAddress = "http://127.0.0.1:8265",
    follow: Annotated[bool, typer.Option("--follow", help="Keep printing until the job ends.")] = False,
):
    """A job's output (the study's progress); with --follow, until it ends."""
    from orchestrator.jobs.client import follow_logs, job_status, jobs_api

    with jobs_api(address) as client:
        if not follow:
            job_status(client, job)
            sys.stdout.write(client.get_job_logs(job))
            return
        status = follow_logs(client, job, lambda text: (sys.stdout.write(text), sys.stdout.flush()))
    console.print(f"job {job}: {status}", highlight=False)
    if status != "SUCCEEDED":
        raise typer.Exit(1)


@app.command()
@user_errors
def stop(job: JobId, address: JobsAddress = "http://127.0.0.1:8265"):
    """Stop a job as Ctrl-C would: what finished is kept; continue with `submit --resume`."""
    from orchestrator.jobs.client import jobs_api
    from orchestrator.jobs.client import stop as stop_job

    with jobs_api(address) as client:
        status = stop_job(client, job)
    console.print(f"job {job}: {status}; continue the study with `orchestrate submit SPEC --resume`", highlight=False)


@app.command()
@user_errors
def status(study: StudyLocation):
    """Arms of a study with trials finished, failed and unfinished, and the best so far."""
    from orchestrator.reports.status import study_status
    from orchestrator.study.remote import opened_studies

    with opened_studies([study]) as (opened,):
        console.print(study_status(opened), highlight=False)


@app.command()
@user_errors
def dashboard(
    study: StudyPath,
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8080,
    host: Annotated[str, typer.Option(help="Address to serve on (0.0.0.0: reachable from other machines).")] = (
        "127.0.0.1"
    ),
):
    """optuna-dashboard on the study's Optuna storage: every arm's trials, history and importances."""
    from orchestrator.run.optuna_storage import journal_path, optuna_storage
    from orchestrator.study.folder import StudyDir

    opened = StudyDir.open(study)
    if not journal_path(opened.root).is_file():
        raise UserError(f"{study} has no Optuna storage yet ({journal_path(opened.root)}); run the study first")
    try:
        import optuna_dashboard
    except ImportError:
        raise UserError(
            "optuna-dashboard is not installed; install it with `pip install 'seg-orchestrator[dashboard]'` "
            "(or `pip install optuna-dashboard`)"
        ) from None
    console.print(f"Optuna dashboard of {study}: http://{host}:{port}/ (Ctrl-C stops it)")
    optuna_dashboard.run_server(optuna_storage(opened.root), host=host, port=port)


@app.command()
@user_errors
def compare(
    studies: StudyLocations,
    format: Annotated[Format, typer.Option("--format", "-f", help="Table format.")] = Format("markdown"),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the table here instead of the terminal.")
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option(
            help="Cell metric: a test metric (miou, miou_fg, dice_mean, dice_mean_fg, iou_<class>, crack_f1, ...) "
            "or best_metric (best validation value of the trials). "
            "Default: test miou, or best_metric before any arm is evaluated."
        ),
    ] = None,
    per_class: Annotated[bool, typer.Option("--per-class", help="Add per-class test IoU columns.")] = False,
    baseline: Annotated[
        str | None,
        typer.Option(
            help="VARIANT (against the same architecture) or ARCHITECTURE:VARIANT: adds the difference and a paired "
            "Wilcoxon p-value per dataset."
        ),
    ] = None,
    reference: Annotated[
        Path | None,
        typer.Option(
            help="CSV/YAML of published numbers (architecture, variant, dataset, value) to print beside the measured.",
        ),
    ] = None,
):
    """Comparison table: rows architecture x variant, columns datasets (mean ± std over folds and seeds), with cost."""
    from orchestrator.reports.compare import CompareOptions, compare_studies
    from orchestrator.study.remote import opened_studies

    with opened_studies(studies) as opened:
        options = CompareOptions(format.value, metric, per_class, baseline, reference).with_study_layout(opened[0])
        table = compare_studies(opened, options)
    if output:
        output.write_text(table)
        console.print(f"wrote {output}")
    else:
        sys.stdout.write(table)


@app.command()
@user_errors
def plot(
    studies: StudyLocations,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Folder for the PNGs (default: <first study>/plots; ./<name>-plots for a URI)."
        ),
    ] = None,
):
    """PNG figures: sampled points per arm coloured by the metric, optimisation history, learning curves, cost."""
    from orchestrator.reports.plots import plot_studies
    from orchestrator.study.remote import opened_studies
    from trainables.storage import is_uri

    with opened_studies(studies) as opened:
        first = opened[0]
        default = Path(f"{first.spec.name}-plots") if is_uri(first.shown_as) else first.root / "plots"
        for path in plot_studies(opened, output or default):
            console.print(f"wrote {path}", highlight=False, soft_wrap=True)


@app.command()
def models():
    """Registered architectures x variants with their parameter counts at default settings."""
    from orchestrator.reports.render import render
    from trainables.models import ARCHITECTURES, build_model, count_parameters, variants

    rows = []
    for name in ARCHITECTURES:
        for variant in variants().values():
            model = build_model(name, variant.name, in_channels=1, num_classes=2, hyper=variant.example)
            rows.append([name, variant.name, f"{count_parameters(model):,}"])
    console.print(render(["architecture", "variant", "parameters"], rows, "markdown"), highlight=False)
    console.print("defaults: " + "; ".join(f"{n} {a.defaults}" for n, a in ARCHITECTURES.items()), highlight=False)


datasets_app = typer.Typer(
    help="Import, list and inspect datasets in the project's folder format.", no_args_is_help=True
)
app.add_typer(datasets_app, name="datasets")


@datasets_app.command("import")
@user_errors
def datasets_import(
    kind: Annotated[str, typer.Argument(help="isbi2012 | sstem | crackforest | folders | rle-csv")],
    src: Annotated[Path, typer.Argument(help="The folder the published dataset was unpacked to.")],
    dest: Annotated[Path, typer.Argument(help="New dataset folder to write.")],
    name: Annotated[str | None, typer.Option(help="Dataset name (default: DEST's folder name).")] = None,
    class_map: Annotated[
        str | None, typer.Option(help="folders: class map as NAME=VALUE,... (default background=0,foreground=255).")
    ] = None,
    csv_name: Annotated[str, typer.Option(help="rle-csv: the CSV file inside SRC.")] = "train.csv",
    single_label: Annotated[
        bool, typer.Option(help="rle-csv: one class per pixel (the higher ClassId wins) instead of multi-label.")
    ] = False,
    source_pattern: Annotated[
        str | None,
        typer.Option(
            help="Record each image's source dataset: a regular expression on the file stem whose first group "
            "names it, e.g. '^(CFD|CRACK500|DeepCrack)_' (test metrics per source, 002 Table 2)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Write into DEST even if it is not empty.")] = False,
):
    """Convert a published dataset layout into the project's format, then check it completely."""
    from orchestrator.datasets import check_dataset, import_dataset

    options: dict = {
        "csv_name": csv_name,
        "single_label": single_label,
        "source_pattern": source_pattern,
        "force": force,
    }
    if class_map:
        try:
            options["class_map"] = {k: int(v) for k, v in (pair.split("=") for pair in class_map.split(","))}
        except ValueError:
            raise UserError(f"--class-map {class_map!r} is not NAME=VALUE,...; e.g. background=0,crack=255") from None
    with console.status(f"importing {kind} from {src}..."):
        report = import_dataset(kind, src, dest, name=name, **options)
        check_dataset(dest)
    labels = ", multi-label" if report["multi_label"] else ""
    labels += f"; sources: {', '.join(report['sources'])}" if report["sources"] else ""
    console.print(
        f"[green]imported[/] {report['count']} images into {dest} (classes: {', '.join(report['classes'])}{labels})"
    )
    if report["skipped"]:
        console.print(
            f"skipped {len(report['skipped'])} image(s) without ground truth: {', '.join(report['skipped'][:5])}"
        )


@datasets_app.command("list")
@user_errors
def datasets_list(root: Annotated[Path, typer.Argument(help="Folder holding dataset folders.")] = Path("datasets")):
    """Dataset folders under ROOT, with image counts and classes."""
    from orchestrator.reports.render import render
    from trainables.data import MANIFEST, read_manifest

    rows = []
    for folder in sorted(path.parent for path in root.glob(f"*/{MANIFEST}")):
        manifest = read_manifest(folder)
        count = len(list((folder / "images").glob("*.png")))
        rows.append([manifest.name, str(folder), str(count), ", ".join(manifest.class_names)])
    if not rows:
        raise UserError(f"no datasets under {root}; import one with `orchestrate datasets import KIND SRC {root}/NAME`")
    console.print(render(["name", "path", "images", "classes"], rows, "markdown"), highlight=False)


@datasets_app.command("show")
@user_errors
def datasets_show(path: Annotated[Path, typer.Argument(help="A dataset folder.")]):
    """Image count, sizes and class pixel frequencies of one dataset (reads every file)."""
    from orchestrator.datasets import summarize
    from orchestrator.reports.render import render

    with console.status(f"reading {path}..."):
        info = summarize(path)
    console.print(
        f"{info['name']}: {info['images']} images, {info['channels']} channel(s), sizes {', '.join(info['sizes'])}"
    )
    rows = [[c["name"], str(c["value"]), f"{c['pixels']:,}", f"{c['fraction']:.2%}"] for c in info["classes"]]
    console.print(render(["class", "mask value", "pixels", "fraction"], rows, "markdown"), highlight=False)


if __name__ == "__main__":
    app()
