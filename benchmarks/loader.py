"""Does the data loader keep up with training? Loader images/s against U-Net step images/s at 256x256.

Data: the ISBI 2012 stack from ../shared/datasets imported with the project's own
importer and cut into 256x256 tiles (synthetic 256x256 cells when that folder is
absent), the ``two_of_list`` augmentation policy, batch 2, the default loader
worker count of a trial worker holding all of this machine's CPUs. The model
step is forward+backward+Adam of the default U-Net (64 base channels, depth 4).
A ratio >= 1 means the loader is not the bottleneck.

    python benchmarks/loader.py [--batches 20] [--steps 3]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from orchestrator.datasets import import_dataset
from orchestrator.study.spec import DatasetSpec
from trainables.config import DataSource, DataSplit
from trainables.data import load_dataset
from trainables.losses import segmentation_loss
from trainables.models import build_model
from trainables.train_loop import loader_workers, make_loader

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "isbi2012-em"


def dataset(workdir: Path) -> tuple[DataSource, DataSplit]:
    if SHARED.is_dir():
        import_dataset("isbi2012", SHARED, workdir / "isbi")
        stems = tuple(str(i) for i in range(30))
        source = DatasetSpec(name="isbi", path=str(workdir / "isbi"), tile=256).source()
        return source, DataSplit(train=stems[:25], val=stems[25:], test=())
    stems = tuple(f"{i:05d}" for i in range(32))
    source = DatasetSpec(name="cells", kind="synthetic", num_images=32, image_size=256).source()
    return source, DataSplit(train=stems[:28], val=stems[28:], test=())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count())
    with tempfile.TemporaryDirectory() as workdir:
        source, split = dataset(Path(workdir))
        data = load_dataset(source, split, seed=0, augmentation="two_of_list")
        workers = loader_workers(None, cpus_per_worker=os.cpu_count())
        loader = make_loader(data.train, 2, True, 0, 1, 0, workers)
        started, images = time.perf_counter(), 0
        for _ in range(max(1, args.batches // len(loader)) + 1):
            for batch, _ in loader:
                images += len(batch)
                if images >= args.batches * 2:
                    break
            if images >= args.batches * 2:
                break
        loader_rate = images / (time.perf_counter() - started)

        model = build_model("unet", "baseline", in_channels=1, num_classes=2)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        batch, masks = next(iter(make_loader(data.train, 2, True, 0, 1, 0, 0)))
        times = []
        for step in range(args.steps + 1):
            began = time.perf_counter()
            optimizer.zero_grad()
            segmentation_loss(model(batch), masks).backward()
            optimizer.step()
            if step:  # the first step warms up
                times.append(time.perf_counter() - began)
        step_rate = 2 / (sum(times) / len(times))
    source = "ISBI 2012 tiles" if SHARED.is_dir() else "synthetic cells"
    print(
        f"data: {source}, {len(data.train)} training tiles 256x256, augmentation two_of_list, loader workers {workers}"
    )
    print(
        f"loader: {loader_rate:.1f} images/s   U-Net step: {step_rate:.2f} images/s   "
        f"ratio loader/step: {loader_rate / step_rate:.1f}"
    )


if __name__ == "__main__":
    main()
