"""What a set of trials cost: worker-hours on the accelerator they used (GPU-h, or CPU-h without GPUs)."""

import pandas as pd


def compute_hours(trials: pd.DataFrame) -> tuple[float, str]:
    """(hours, unit): wall time x workers x GPUs per worker (CPUs per worker where no GPU was used)."""
    gpu = trials["gpus_per_worker"].fillna(0) > 0
    per_worker = trials["gpus_per_worker"].where(gpu, trials["cpus_per_worker"]).fillna(1)
    hours = (trials["wall_seconds"].fillna(0) * trials["workers"].fillna(1) * per_worker).sum() / 3600
    return hours, "GPU-h" if gpu.any() else "CPU-h"
