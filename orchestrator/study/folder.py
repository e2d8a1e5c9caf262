"""A study's directory: the spec copy, one Tune experiment per arm, checkpoints, results, logs.

<storage>/<study name>/
    spec.yaml         the spec as submitted (data paths made absolute); resume reads this copy
    splits/<dataset>.json  the source images of each split (and fold); resume reuses them
    arms/<arm>/       the arm's Ray Tune experiment (searcher state included)
    train/            Ray Train runs: each trial's checkpoints (or at the spec's checkpoint_storage,
                      <checkpoint_storage>/<study name>/train, e.g. in an object store)
    results/          Parquet tables (see orchestrator.results.store)
    state/<arm>.done  written when every trial of the arm is recorded
    state/<arm>.carried.json  trials recorded before the arm's current Tune experiment (one started from records)
    logs/             Ray's own logs
"""

import json
import os
import shutil
from functools import cached_property
from pathlib import Path

import search_spaces
from orchestrator import __version__
from orchestrator.errors import UserError
from orchestrator.results.schema import SCHEMA_VERSION
from orchestrator.results.store import ResultsStore
from orchestrator.study.spec import DatasetSpec, StudySpec, dump_spec, load_spec
from orchestrator.study.splits import compute_split
from trainables import storage
from trainables.data import class_names_of, source_names
from trainables.splits import select_fold

SPEC_FILE = "spec.yaml"
OPTUNA_JOURNAL = "optuna/journal.log"  # every arm's Optuna study (orchestrator.run.optuna_storage)
REFERENCE_FILE = "reference.csv"  # the spec's published numbers, copied: the study stays self-contained


class StudyDir:
    def __init__(self, root: Path, shown_as: str | None = None):
        self.root = Path(root).resolve()
        self.shown_as = shown_as or str(self.root)  # where the user's study is (a URI for a downloaded copy)

    @classmethod
    def check_new(cls, spec: StudySpec, storage: str | Path) -> "StudyDir":
        """The study's folder under the local (or shared) folder ``storage``, refused if a study of that name is
        already there. A storage URI is the business of orchestrator.study.mirror."""
        study = cls(Path(storage) / spec.name)
        if (study.root / SPEC_FILE).exists():
            raise UserError(
                f"study {spec.name!r} already exists at {study.root}; continue it with "
                f"`orchestrate resume {study.root}`, or rename the study (`name:`) or use --storage"
            )
        return study

    @classmethod
    def create(cls, spec: StudySpec, storage: str | Path) -> "StudyDir":
        study = cls.check_new(spec, storage)
        study.root.mkdir(parents=True, exist_ok=True)
        if spec.compare.reference:
            shutil.copyfile(spec.compare.reference, study.root / REFERENCE_FILE)
            spec = spec.model_copy(update={"compare": spec.compare.model_copy(update={"reference": REFERENCE_FILE})})
        (study.root / SPEC_FILE).write_text(dump_spec(spec))
        info = {"name": spec.name, "seed": spec.seed, "package_version": __version__, "schema_version": SCHEMA_VERSION}
        (study.root / "study.json").write_text(json.dumps(info, indent=2) + "\n")
        return study

    @classmethod
    def open(cls, path: str | Path) -> "StudyDir":
        study = cls(Path(path))
        if not (study.root / SPEC_FILE).is_file():
            raise UserError(
                f"{path} is not a study directory (no {SPEC_FILE}); give the folder `orchestrate run` created"
            )
        return study

    @cached_property
    def spec(self) -> StudySpec:
        return load_spec(self.root / SPEC_FILE)

    @property
    def arms_dir(self) -> Path:
        return self.root / "arms"

    @property
    def train_dir(self) -> Path:
        return self.root / "train"

    @property
    def train_storage(self) -> str:
        """Where Ray Train keeps the trials' runs: under the spec's checkpoint_storage, else train/."""
        if self.spec.checkpoint_storage:
            return storage.join(self.spec.checkpoint_storage, self.spec.name, "train")
        return str(self.train_dir)

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def arm_dir(self, arm_id: str) -> Path:
        return self.arms_dir / arm_id

    def _done_marker(self, arm_id: str) -> Path:
        return self.root / "state" / f"{arm_id}.done"

    def is_done(self, arm_id: str) -> bool:
        return self._done_marker(arm_id).exists()

    def mark_done(self, arm_id: str) -> None:
        self._done_marker(arm_id).parent.mkdir(parents=True, exist_ok=True)
        self._done_marker(arm_id).touch()

    def _carried_file(self, arm_id: str) -> Path:
        return self.root / "state" / f"{arm_id}.carried.json"

    def carried_trials(self, arm_id: str) -> set[str]:
        """Trials recorded before the arm's Tune experiment started: they count toward its budget."""
        path = self._carried_file(arm_id)
        return set(json.loads(path.read_text())) if path.is_file() else set()

    def set_carried_trials(self, arm_id: str, trial_ids: set[str]) -> None:
        path = self._carried_file(arm_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(json.dumps(sorted(trial_ids)) + "\n")
        os.replace(temporary, path)  # whole or absent: a kill mid-write must not forget carried trials

    def discard_arm_experiment(self, arm_id: str) -> None:
        """Drop an arm experiment that never saved restorable state (killed within its first seconds)."""
        shutil.rmtree(self.arm_dir(arm_id), ignore_errors=True)

    def split(self, dataset: DatasetSpec, fold: int | None = None) -> dict:
        """The dataset's split (for ``fold``), computed once and kept as readable JSON; resume reuses it."""
        path = self.root / "splits" / f"{dataset.name}.json"
        if path.is_file():
            split = json.loads(path.read_text())
        else:
            split = compute_split(self.spec, dataset)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(split, indent=1) + "\n")
        return select_fold(split, fold) if fold is not None and split.get("folds") else split

    @cached_property
    def results(self) -> ResultsStore:
        spec = self.spec
        hyperparameters: dict[str, str] = {}
        for variant in spec.variants:
            hyperparameters.update(search_spaces.load_space(variant.space).PARAMETERS)
        classes = [name for d in spec.datasets for name in class_names_of(d.source())]
        sources = [name for d in spec.datasets for name in source_names(d.source())]
        return ResultsStore(self.root / "results", hyperparameters, classes, sources)
