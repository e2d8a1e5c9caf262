"""Splitting a dataset's source images: fixed fractions or counts, K folds, a held-out test split.

Splits are made over *source images* (stems), so tiles of one image never
cross splits. The result is plain JSON that a person can read and edit.
"""

import numpy as np


class SplitError(ValueError):
    pass


def _how_many(amount: float, total: int) -> int:
    return int(amount) if amount >= 1 else int(round(amount * total))


def select_fold(split: dict, fold: int) -> dict:
    """The same split with fold ``fold`` validating and the other folds training."""
    chunks = split["folds"]
    train = sorted(s for i, chunk in enumerate(chunks) if i != fold for s in chunk)
    return {**split, "train": train, "val": list(chunks[fold]), "fold": fold}


def make_split(stems: list[str], val: float, test: float, folds: int | None, fold: int | None, seed: int) -> dict:
    fold = fold or 0
    stems = sorted(stems)
    order = [stems[i] for i in np.random.default_rng(seed).permutation(len(stems))]
    n_test = _how_many(test, len(order))
    held_out, rest = order[:n_test], order[n_test:]
    if folds:
        if folds < 2 or fold >= folds:
            raise SplitError(f"folds={folds}, fold={fold}: need folds >= 2 and 0 <= fold < folds")
        chunks = [sorted(chunk.tolist()) for chunk in np.array_split(np.array(rest, dtype=object), folds)]
        empty = [i for i, chunk in enumerate(chunks) if not chunk]
        if empty:
            raise SplitError(
                f"{len(rest)} image(s) cannot fill {folds} folds (fold {empty[0]} is empty); use fewer folds"
            )
        chosen = select_fold({"folds": chunks}, fold)
        train, val_stems = chosen["train"], chosen["val"]
    else:
        chunks = None
        n_val = _how_many(val, len(order))  # fractions are of the whole dataset
        val_stems, train = sorted(rest[:n_val]), sorted(rest[n_val:])
    for name, part in (("train", train), ("validation", val_stems)):
        if not part:
            raise SplitError(
                f"the {name} split of {len(stems)} image(s) is empty (val={val}, test={test}); change the split"
            )
    return {
        "seed": seed,
        "train": train,
        "val": val_stems,
        "test": sorted(held_out),
        "folds": chunks,
        "fold": fold if folds else None,
    }
