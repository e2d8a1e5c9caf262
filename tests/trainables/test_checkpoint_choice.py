"""Which checkpoint of the best trial the final evaluation loads: the best epoch, or the last (004 §3.6)."""

import json

from trainables.direction import Direction
from trainables.evaluation_task import best_checkpoint


def _snapshot(run_dir, epochs_and_values, latest):
    results = [
        {"checkpoint_dir_name": f"checkpoint_{e}", "metrics": {"epoch": e, "val_miou": v}} for e, v in epochs_and_values
    ]
    snapshot = {
        "checkpoint_results": results,
        "latest_checkpoint_result": {"checkpoint_dir_name": f"checkpoint_{latest}"},
    }
    (run_dir / "checkpoint_manager_snapshot.json").write_text(json.dumps(snapshot))


def test_best_is_the_best_epoch_by_the_metric_and_last_is_the_latest(tmp_path):
    _snapshot(tmp_path, [(3, 0.8), (5, 0.6)], latest=5)  # Ray keeps the best and the latest
    run_dir = str(tmp_path)
    assert best_checkpoint(run_dir, "val_miou", Direction.MAX) == f"{run_dir}/checkpoint_3"
    assert best_checkpoint(run_dir, "val_miou", Direction.MIN) == f"{run_dir}/checkpoint_5"
    assert best_checkpoint(run_dir, "val_miou", Direction.MAX, "last") == f"{run_dir}/checkpoint_5"
