"""Parameter count and forward+backward time of every registered model x variant.

Batch 2 at 256x256, 1 input channel, 2 classes, published default widths, on
this machine's CPU (or GPU with --device cuda). Times are the median of
--repeats runs after a warm-up, and each is also printed as a ratio to the
plain U-Net baseline measured in the same run.

    python benchmarks/model_zoo.py                   # print the table
    python benchmarks/model_zoo.py --update-readme   # also write it into README.md
"""

import argparse
import re
import statistics
import time
from pathlib import Path

import torch

from trainables.losses import segmentation_loss
from trainables.models import ARCHITECTURES, build_model, count_parameters, variants

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- model-zoo:start -->", "<!-- model-zoo:end -->"


def step_ms(model, aux_weight: float, device: str, size: int, repeats: int) -> float:
    images = torch.rand(2, 1, size, size, device=device)
    masks = torch.randint(0, 2, (2, size, size), device=device)
    model.to(device).train()
    times = []
    for attempt in range(repeats + 1):
        started = time.perf_counter()
        model.zero_grad(set_to_none=True)
        segmentation_loss(model(images), masks, aux_weight).backward()
        if device == "cuda":
            torch.cuda.synchronize()
        if attempt:  # the first run is a warm-up
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(0)
    rows, baseline = [], None
    for architecture in ARCHITECTURES:
        for variant in variants().values():
            model = build_model(architecture, variant.name, in_channels=1, num_classes=2, hyper=variant.example)
            ms = step_ms(model, variant.aux_weight(variant.example), args.device, args.size, args.repeats)
            baseline = baseline or ms  # unet/baseline comes first
            rows.append(
                f"| {architecture} | {variant.name} | {count_parameters(model):,} | {ms:,.0f} | {ms / baseline:.2f} |"
            )
            print(rows[-1], flush=True)
    table = "\n".join(
        [
            "| architecture | variant | parameters "
            f"| fwd+bwd ms (batch 2, {args.size}², {args.device}) | × unet baseline |",
            "|---|---|---:|---:|---:|",
            *rows,
        ]
    )
    if args.update_readme:
        text = README.read_text()
        block = f"{START}\n{table}\n{END}"
        README.write_text(re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S))
        print(f"updated {README}")


if __name__ == "__main__":
    main()
