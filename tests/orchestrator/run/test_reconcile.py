"""A resume folds in what a crash mid-compaction left behind, for every recorded trial of the arm:
also one recorded by an earlier Tune experiment (Tune's state was lost, the trial kept from our rows)."""

import pyarrow.dataset as ds

from orchestrator.run.recorder import ResultsRecorder
from orchestrator.run.runner import reconcile_arm
from orchestrator.study.folder import StudyDir
from orchestrator.study.spec import StudySpec
from orchestrator.study.trial_config import trial_config
from tests.conftest import tiny_spec

TRIAL = "deb26cf9"


def test_a_kept_trial_whose_compaction_was_cut_short_has_each_epoch_once_after_reconciling(tmp_path):
    study = StudyDir.create(StudySpec.model_validate(tiny_spec("kept", variants=["baseline"])), tmp_path)
    arm = study.spec.arms()[0]
    store = study.results
    for epoch in (1, 2):
        store.write_epoch(arm.id, TRIAL, {"study": "kept", "arm": arm.id, "trial_id": TRIAL, "epoch": epoch})
    store.write_trial(arm.id, TRIAL, {"study": "kept", "arm": arm.id, "trial_id": TRIAL, "status": "completed"})
    left_behind = store.root / "epochs" / arm.id / f"{TRIAL}-e0002.parquet"
    kept_bytes = left_behind.read_bytes()
    store.compact_epochs(arm.id, TRIAL)
    left_behind.write_bytes(kept_bytes)  # killed after the compacted file was in place, before this went
    assert len(ds.dataset(store.root / "epochs").to_table()) == 3  # epoch 2 twice, until reconciled

    outcome = reconcile_arm(study, arm, ResultsRecorder(store, trial_config(study, arm)), kept={TRIAL})

    epochs = ds.dataset(store.root / "epochs").to_table().to_pandas()
    assert sorted(epochs["epoch"]) == [1, 2] and not left_behind.exists()
    assert outcome.finished == 1 and not outcome.orphaned
