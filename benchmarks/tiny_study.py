"""The tiny study the engine benchmarks run: 32x32 synthetic cells, a 2-level U-Net with 4 base channels."""


def tiny_study(name: str, variants: list[str], trials: int, epochs: int, max_concurrent: int = 1) -> dict:
    """A spec (as a dict) whose trials cost almost nothing but the engine's own overhead."""
    return {
        "name": name,
        "seed": 0,
        "datasets": [{"name": "cells", "kind": "synthetic", "num_images": 8, "image_size": 32}],
        "architectures": [{"name": "unet", "params": {"base_channels": 4, "depth": 2}}],
        "variants": variants,
        "budget": {"trials_per_arm": trials, "epochs": epochs, "max_concurrent_trials": max_concurrent},
        "resources": {"workers": 1, "cpus_per_worker": 1},
        "training": {"batch_size": 4},
    }
