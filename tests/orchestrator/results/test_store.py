"""The append-only Parquet store: per-epoch files while a trial runs, one file per finished trial."""

import pyarrow.dataset as ds

from orchestrator.results.store import ResultsStore

ARM, TRIAL = "cells__unet__baseline", "abc_00000"


def _store(tmp_path) -> ResultsStore:
    return ResultsStore(tmp_path / "results", {"lr": "float"}, ["background", "cell"])


def _epoch(epoch: int, loss: float = 1.0) -> dict:
    return {"study": "s", "arm": ARM, "trial_id": TRIAL, "epoch": epoch, "train_loss": loss / epoch}


def _files(tmp_path):
    return sorted(p.name for p in (tmp_path / "results" / "epochs" / ARM).glob("*.parquet"))


def test_a_finished_trials_epochs_are_compacted_into_one_file(tmp_path):
    store = _store(tmp_path)
    for epoch in (1, 2, 3):
        store.write_epoch(ARM, TRIAL, _epoch(epoch))
    assert len(_files(tmp_path)) == 3
    store.compact_epochs(ARM, TRIAL)
    assert _files(tmp_path) == [f"{TRIAL}.parquet"]
    table = ds.dataset(tmp_path / "results" / "epochs").to_table().to_pandas()  # readable without the project
    assert table["epoch"].tolist() == [1, 2, 3] and [row["epoch"] for row in store.epochs_of(ARM, TRIAL)] == [1, 2, 3]


def test_a_replayed_epoch_of_a_compacted_trial_is_not_written_twice(tmp_path):
    store = _store(tmp_path)
    store.write_epoch(ARM, TRIAL, _epoch(1))
    store.compact_epochs(ARM, TRIAL)
    store.write_epoch(ARM, TRIAL, _epoch(1))  # Tune replays a finished trial after a crash
    assert _files(tmp_path) == [f"{TRIAL}.parquet"]


def test_a_crash_between_compaction_and_clean_up_loses_and_duplicates_nothing(tmp_path):
    store = _store(tmp_path)
    for epoch in (1, 2):
        store.write_epoch(ARM, TRIAL, _epoch(epoch))
    store.compact_epochs(ARM, TRIAL)
    store.write_epoch(ARM, TRIAL, _epoch(3, loss=9.0))  # as if left behind: a later epoch not yet folded in
    assert [row["epoch"] for row in store.epochs_of(ARM, TRIAL)] == [1, 2, 3]
    store.compact_epochs(ARM, TRIAL)
    table = ds.dataset(tmp_path / "results" / "epochs").to_table().to_pandas()
    assert table["epoch"].tolist() == [1, 2, 3] and table["train_loss"].iloc[-1] == 3.0
