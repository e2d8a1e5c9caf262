"""The results store: append-only Parquet, one file per trial (and per trial-epoch).

Layout under ``<study>/results/``::

    trials/<arm>/<trial id>.parquet             one row per finished trial
    epochs/<arm>/<trial id>-e<epoch>.parquet    one row per trial-epoch, while the trial runs
    epochs/<arm>/<trial id>.parquet             every epoch of a finished trial (its epoch files compacted)
    tests/<arm>/<trial id>.parquet              the final evaluation of the arm's best trial
    images/<arm>/<trial id>.parquet             its per-image metrics (for spread and paired tests)
    orphaned/...                                rows of trials a crash made Tune forget

File names are deterministic, and each file is written to a hidden temporary
name and renamed into place, so writing the same row twice (a trial replayed
after a crash) replaces it instead of duplicating it. The columns are in
``orchestrator.results.schema``.
"""

import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from orchestrator.results.schema import FIXED_COLUMNS, TABLES, table_schemas


def _write_atomically(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")  # a leading "." hides it from pyarrow.dataset
    pq.write_table(table, temporary)
    os.replace(temporary, path)


class ResultsStore:
    def __init__(self, root: Path, hyperparameters: dict[str, str], class_names: list[str], sources: list[str] = ()):
        self.root = Path(root)
        self.schemas = table_schemas(hyperparameters, class_names, sources)

    def _dir(self, table: str, arm: str) -> Path:
        return self.root / table / arm

    def write_epoch(self, arm: str, trial_id: str, row: dict[str, Any]) -> None:
        compacted = self._dir("epochs", arm) / f"{trial_id}.parquet"
        if (
            compacted.is_file()
            and int(row["epoch"]) in pq.read_table(compacted, columns=["epoch"])["epoch"].to_pylist()
        ):
            return  # a finished trial replayed after a crash: its epochs are already in its compacted file
        table = pa.Table.from_pylist([row], schema=self.schemas["epochs"])
        _write_atomically(table, self._dir("epochs", arm) / f"{trial_id}-e{int(row['epoch']):04d}.parquet")

    def compact_epochs(self, arm: str, trial_id: str) -> None:
        """One file of every epoch of a finished trial in place of its per-epoch files.

        The compacted file is in place before any epoch file goes, so a crash loses nothing; a crash
        between the two leaves epoch files that the next compaction (on resume) folds in again."""
        epoch_files = sorted(self._dir("epochs", arm).glob(f"{trial_id}-e*.parquet"))
        if not epoch_files:
            return
        rows = self.epochs_of(arm, trial_id)
        _write_atomically(
            pa.Table.from_pylist(rows, schema=self.schemas["epochs"]), self._dir("epochs", arm) / f"{trial_id}.parquet"
        )
        for path in epoch_files:
            path.unlink()

    def write_trial(self, arm: str, trial_id: str, row: dict[str, Any]) -> None:
        table = pa.Table.from_pylist([row], schema=self.schemas["trials"])
        _write_atomically(table, self._dir("trials", arm) / f"{trial_id}.parquet")

    def write_evaluation(self, arm: str, trial_id: str, summary: dict[str, Any], images: list[dict[str, Any]]) -> None:
        # Images first: an evaluation counts as done once its summary row exists.
        _write_atomically(
            pa.Table.from_pylist(images, schema=self.schemas["images"]),
            self._dir("images", arm) / f"{trial_id}.parquet",
        )
        _write_atomically(
            pa.Table.from_pylist([summary], schema=self.schemas["tests"]),
            self._dir("tests", arm) / f"{trial_id}.parquet",
        )

    def evaluated(self, arm: str) -> bool:
        return any(self._dir("tests", arm).glob("*.parquet"))

    def trial_row(self, arm: str, trial_id: str) -> dict[str, Any] | None:
        path = self._dir("trials", arm) / f"{trial_id}.parquet"
        return pq.read_table(path).to_pylist()[0] if path.is_file() else None

    def recorded_trials(self, arm: str) -> set[str]:
        return {p.stem for p in self._dir("trials", arm).glob("*.parquet")}

    def epochs_of(self, arm: str, trial_id: str) -> list[dict[str, Any]]:
        """The trial's epoch rows in order, from its compacted file and any epoch files (these win)."""
        compacted = self._dir("epochs", arm) / f"{trial_id}.parquet"
        files = [compacted] if compacted.is_file() else []
        files += sorted(self._dir("epochs", arm).glob(f"{trial_id}-e*.parquet"))
        by_epoch = {row["epoch"]: row for f in files for row in pq.read_table(f).to_pylist()}
        return [by_epoch[epoch] for epoch in sorted(by_epoch)]

    def quarantine(self, arm: str, keep: set[str]) -> list[str]:
        """Move rows of trials not in ``keep`` to ``orphaned/``; returns the moved trial ids."""
        moved = set()
        for table in TABLES:
            for path in self._dir(table, arm).glob("*.parquet"):
                trial_id = path.stem.rsplit("-e", 1)[0] if table == "epochs" else path.stem
                if trial_id not in keep:
                    target = self.root / "orphaned" / table / arm / path.name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.move(path, target)
                    moved.add(trial_id)
        return sorted(moved)


def read_table(study_roots: list[Path] | Path, table: str, arm: str | None = None) -> pd.DataFrame:
    """One table (of one arm, if given) of one or more studies as a DataFrame (schemas unified across studies)."""
    roots = [study_roots] if isinstance(study_roots, Path) else study_roots
    files = [f for root in roots for f in sorted((Path(root) / "results" / table).glob(f"{arm or '*'}/*.parquet"))]
    if not files:
        return pd.DataFrame(columns=[name for name, _ in FIXED_COLUMNS[table]])
    merged = pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")
    return merged.to_pandas()
