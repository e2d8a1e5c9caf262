"""`orchestrate status`: per arm, trials finished / failed / unfinished and the best so far."""

from orchestrator.reports.formatting import format_value
from orchestrator.reports.render import render
from orchestrator.results.store import read_table
from orchestrator.study.folder import StudyDir


def study_status(study: StudyDir) -> str:
    spec = study.spec
    trials = read_table(study.root, "trials")
    epochs = read_table(study.root, "epochs")
    headers = ["arm", "state", "finished", "failed", "unfinished", f"best {spec.metric}"]
    rows = []
    for arm in spec.arms():
        mine = trials[trials["arm"] == arm.id]
        started = set(epochs.loc[epochs["arm"] == arm.id, "trial_id"]) if len(epochs) else set()
        unfinished = len(started - set(mine["trial_id"]))
        scored = mine.loc[mine["status"] != "failed", "best_metric"]
        best = spec.mode.best(scored)
        if study.is_done(arm.id):
            state = "done"
        elif study.arm_dir(arm.id).exists():
            state = "in progress"
        else:
            state = "pending"
        rows.append(
            [
                arm.id,
                state,
                f"{len(mine)}/{arm.trials}",
                str(int((mine["status"] == "failed").sum())),
                str(unfinished),
                format_value(best),
            ]
        )
    return render(headers, rows, "markdown", f"study {spec.name} at {study.shown_as}")
