"""A dataset's split over source images: seeded from the study, the same for every arm."""

from orchestrator.errors import UserError
from orchestrator.study.spec import DatasetSpec, StudySpec
from trainables.data import source_stems
from trainables.seeding import derive_seed
from trainables.splits import SplitError, make_split


def data_seed(spec: StudySpec, dataset: DatasetSpec) -> int:
    """The seed of a dataset's split and synthetic images: from the study seed and the dataset name only."""
    return derive_seed(spec.seed, "data", dataset.name)


def compute_split(spec: StudySpec, dataset: DatasetSpec) -> dict:
    """The dataset's split over source images; raises ``UserError`` if a part or fold would be empty."""
    split = dataset.split
    try:
        return make_split(
            source_stems(dataset.source()),
            split.val,
            split.test,
            split.folds,
            split.fold or 0,
            data_seed(spec, dataset),
        )
    except SplitError as error:
        raise UserError(f"dataset {dataset.name!r}: {error}") from None
