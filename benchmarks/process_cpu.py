"""Where a study's CPU time goes, process by process (why the test suite is CPU-bound on 2 cores).

Runs ``orchestrate run`` on a tiny study (one arm, ``--trials`` trials of 1
epoch, 2 at a time) and reads every descendant process's CPU time from
``/proc`` every 0.1 s: the CLI, the local Ray it starts, the arm's driver and
each Ray worker, named by what it last ran (``ray::RayTrainWorker``, ...).
Printed per kind of process, with the total against the trials' own training
time from the results (the baseline: what the study exists to do).
``--command`` samples any command's processes the same way instead (every
0.25 s), against the command's wall time on all cores: the test suite, say.

    python benchmarks/process_cpu.py [--trials 6]
    python benchmarks/process_cpu.py --command "bash scripts/test.sh"
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pyarrow.dataset as ds
import yaml
from tiny_study import tiny_study  # beside this file

REPO = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
# (what a process's command line holds, the name it is counted under), first match wins
KINDS = (
    ("ray::RayTrainWorker", "Train worker"),
    ("ray::SynchronizationActor", "Train's synchronisation actor"),
    ("ray::TrainController", "Train controller (own actor)"),
    ("ray::_QueueActor", "Tune's report queue actor"),
    ("ray::evaluate", "final evaluation task"),
    ("ray::_AutoscalingCoordinatorActor", "Train's autoscaling coordinator"),
    ("ray::ImplicitFunc", "Tune trial actor (hosting the Train controller)"),
    ("ray::DashboardAgent", "local Ray (GCS, raylet, agents)"),
    ("ray::RuntimeEnvAgent", "local Ray (GCS, raylet, agents)"),
    ("ray::", "other Ray worker"),
    ("workers/default_worker.py", "Ray worker started and never used"),
    ("orchestrator.run.arm_process", "the arm's driver process"),
    ("-m orchestrator run", "orchestrate run itself"),
    ("-m orchestrator resume", "orchestrate resume itself"),
    ("-m orchestrator", "other orchestrate commands"),
    ("gcs_server", "local Ray (GCS, raylet, agents)"),
    ("raylet", "local Ray (GCS, raylet, agents)"),
    ("ray/dashboard", "local Ray (GCS, raylet, agents)"),
    ("pytest", "pytest and its workers (in-process tests)"),
    ("sys.stdin.readline", "pytest and its workers (in-process tests)"),  # an xdist worker
    ("moto", "moto's S3 server (tests)"),
    ("python", "other Python processes"),
)


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds so far), or None once the process is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _kind(command: str) -> str:
    return next((name for marker, name in KINDS if marker in command), "other processes")


def sample_until_done(process: subprocess.Popen, every_s: float = 0.1) -> dict[int, tuple[str, float]]:
    """pid -> (its kind, its CPU seconds) for ``process`` and all its descendants."""
    seen: dict[int, tuple[str, float]] = {}
    while process.poll() is None:
        stats = {pid: stat for pid in map(int, filter(str.isdigit, os.listdir("/proc"))) if (stat := _stat(pid))}
        family = {process.pid}
        for _ in range(12):  # descendants, a generation per pass
            family |= {pid for pid, (parent, _) in stats.items() if parent in family}
        for pid in family & stats.keys():
            command = _command(pid)
            kind = _kind(command) if command and "ray::IDLE" not in command else None
            previous = seen.get(pid, ("", 0.0))[0]
            seen[pid] = (kind or previous or "idle Ray worker", stats[pid][1])
        time.sleep(every_s)
    return seen


def _run_sampled(command: list[str] | str, every_s: float, shell: bool = False):
    """Run ``command`` from the repository root, sampling its processes: (pid -> (kind, CPU-s)), the
    total CPU-s, the wall seconds, its exit code."""
    started = time.perf_counter()
    process = subprocess.Popen(command, shell=shell, cwd=REPO, stdout=subprocess.DEVNULL)
    seen = sample_until_done(process, every_s)
    return seen, sum(cpu for _, cpu in seen.values()), time.perf_counter() - started, process.returncode


def _by_kind(seen: dict[int, tuple[str, float]]) -> dict[str, list[float]]:
    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, cpu in seen.values():
        by_kind[kind].append(cpu)
    return by_kind


def _print_kinds(by_kind: dict[str, list[float]], trials: int | None = None) -> None:
    total = sum(map(sum, by_kind.values()))
    for kind, cpus in sorted(by_kind.items(), key=lambda item: -sum(item[1])):
        share = f"{sum(cpus) / trials:5.2f} per trial" if trials else f"{100 * sum(cpus) / total:4.1f} %"
        print(f"  {kind:48} {sum(cpus):6.1f} CPU-s in {len(cpus):3} process(es), {share}")


def _study(trials: int) -> None:
    with tempfile.TemporaryDirectory() as root:
        spec_path = Path(root) / "spec.yaml"
        spec_path.write_text(yaml.safe_dump(tiny_study("cpu", ["baseline"], trials, epochs=1, max_concurrent=2)))
        command = [sys.executable, "-m", "orchestrator", "run", str(spec_path), "--storage", root]
        seen, total, wall, _ = _run_sampled(command, every_s=0.1)
        epochs = ds.dataset(Path(root) / "cpu" / "results" / "epochs").to_table().to_pandas()
    print(f"one arm, {trials} trials of 1 epoch, 2 at a time: {total:.1f} CPU-s in {wall:.1f} s")
    _print_kinds(_by_kind(seen), trials)
    trained = float(epochs["epoch_seconds"].sum())
    print(f"  baseline, the trials' own training and validation: {trained:.1f} s (ratio {total / trained:.0f})")


def _sample_a_command(command: str) -> None:
    seen, total, wall, returncode = _run_sampled(command, every_s=0.25, shell=True)
    cores = os.cpu_count() or 1
    print(f"`{command}` (exit code {returncode}): {total:.1f} CPU-s in {wall:.1f} s")
    _print_kinds(_by_kind(seen))
    capacity = wall * cores
    print(f"  baseline, the wall time on all {cores} cores: {capacity:.1f} CPU-s (ratio {total / capacity:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--command", help="sample this shell command's processes instead of a tiny study")
    args = parser.parse_args()
    if args.command:
        _sample_a_command(args.command)
    else:
        _study(args.trials)


if __name__ == "__main__":
    main()
