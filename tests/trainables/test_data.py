import numpy as np
import pytest
import yaml
from PIL import Image

from orchestrator.study.spec import DatasetSpec
from trainables.augment import POLICIES, build_policy
from trainables.config import DataSplit
from trainables.data import SegmentationDataset, load_dataset, resize_and_tile, stochastic_width, synthetic_image
from trainables.splits import SplitError, make_split


def test_synthetic_images_are_seeded_and_masks_match_the_drawn_shapes():
    image, mask = synthetic_image("cells", 3, 32, seed=5)
    again, _ = synthetic_image("cells", 3, 32, seed=5)
    assert np.array_equal(image, again) and image.shape == (32, 32) and image.dtype == np.uint8
    assert set(np.unique(mask)) == {0, 1}
    assert image[mask == 1].mean() > image[mask == 0].mean() + 40
    crack, crack_mask = synthetic_image("cracks", 0, 64, seed=5)
    assert 0 < crack_mask.mean() < 0.3 and crack[crack_mask == 1].mean() < crack[crack_mask == 0].mean() - 40


STEMS = [f"{i:02d}" for i in range(20)]


def test_fraction_split_is_deterministic_disjoint_and_complete():
    split = make_split(STEMS, val=0.25, test=0.1, folds=None, fold=0, seed=3)
    assert (len(split["train"]), len(split["val"]), len(split["test"])) == (13, 5, 2)
    assert sorted(split["train"] + split["val"] + split["test"]) == STEMS
    assert make_split(STEMS, val=0.25, test=0.1, folds=None, fold=0, seed=3) == split
    assert make_split(STEMS, val=0.25, test=0.1, folds=None, fold=0, seed=4) != split


def test_count_split_like_35_5_10():
    stems = [str(i) for i in range(50)]
    split = make_split(stems, val=5, test=10, folds=None, fold=0, seed=0)
    assert (len(split["train"]), len(split["val"]), len(split["test"])) == (35, 5, 10)


def test_k_folds_cover_the_non_test_images_once_and_never_leak_the_test_split():
    folds = [make_split(STEMS, val=0, test=4, folds=4, fold=f, seed=1) for f in range(4)]
    test = set(folds[0]["test"])
    assert all(set(f["test"]) == test for f in folds)
    validated = [s for f in folds for s in f["val"]]
    assert sorted(validated) == sorted(set(STEMS) - test)  # every non-test image validates exactly once
    for f in folds:
        assert not set(f["train"]) & set(f["val"]) and not (set(f["train"]) | set(f["val"])) & test


def test_a_split_that_leaves_a_fold_empty_is_an_error():
    with pytest.raises(SplitError, match="fold 3 is empty"):
        make_split(STEMS[:4], val=0, test=1, folds=4, fold=0, seed=0)
    with pytest.raises(SplitError, match="train split"):
        make_split(STEMS[:4], val=3, test=1, folds=None, fold=0, seed=0)


def test_tiles_of_one_image_stay_in_its_split_and_are_exact_crops():
    image = np.arange(64 * 64, dtype=np.uint32).reshape(64, 64).astype(np.uint8)
    mask = (np.arange(64 * 64).reshape(64, 64) % 3).astype(np.uint8)
    tiles = resize_and_tile([(image, mask)], None, 32)
    assert (
        len(tiles) == 4 and np.array_equal(tiles[3][0], image[32:, 32:]) and np.array_equal(tiles[1][1], mask[:32, 32:])
    )
    resized = resize_and_tile([(image, mask)], [16, 24], None)
    assert resized[0][0].shape == (16, 24) and set(np.unique(resized[0][1])) <= {0, 1, 2}


def test_stochastic_width_gives_four_incrementally_dilated_masks():
    mask = np.zeros((32, 32), np.uint8)
    mask[16, 16] = 1
    widened = stochastic_width([(np.zeros((32, 32), np.uint8), mask)])
    areas = [m.sum() for _, m in widened]
    assert len(widened) == 4 and areas[0] == 1 and areas == sorted(areas) and areas[1] == 9
    assert areas[2] == 49 and areas[3] == 14 * 14  # 3x3, then 5x5 (7x7 in all), then 8x8 (14x14)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("channels", [1, 3])
def test_augmentations_keep_image_and_mask_aligned(policy, channels):
    # The mask is the image thresholded: any geometric transform must move both the same way.
    rng = np.random.default_rng(0)
    mask = np.zeros((64, 64), np.uint8)
    mask[8:30, 20:50] = 1
    image = np.where(mask == 1, 220, 30).astype(np.uint8)
    if channels == 3:
        image = np.repeat(image[..., None], 3, axis=2)
    transform = build_policy(policy, channels)
    for _ in range(25):
        if transform is None:
            break
        out = transform(image=image, mask=mask)
        gray = out["image"] if channels == 1 else out["image"].mean(axis=2)
        moved = out["mask"] == 1
        if moved.sum() > 20 and (~moved).sum() > 20:
            assert gray[moved].mean() > gray[~moved].mean(), rng


def test_folder_dataset_loads_its_split_and_maps_mask_values(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    manifest = {
        "name": "toy",
        "channels": 1,
        "classes": [{"name": "membrane", "value": 0}, {"name": "cell", "value": 255}],
    }
    (tmp_path / "dataset.yaml").write_text(yaml.safe_dump(manifest))
    for i in range(4):
        Image.fromarray(np.full((16, 16), 40 * i, np.uint8)).save(tmp_path / "images" / f"{i}.png")
        mask = np.zeros((16, 16), np.uint8)
        mask[:, 8:] = 255
        Image.fromarray(mask).save(tmp_path / "masks" / f"{i}.png")
    split = DataSplit(train=("0", "1", "2"), val=("3",), test=())
    data = load_dataset(DatasetSpec(name="toy", path=str(tmp_path), tile=8, channels=3).source(), split, seed=0)
    assert data.class_names == ["membrane", "cell"] and data.in_channels == 3
    assert len(data.train) == 12 and len(data.val) == 4
    image, mask = data.val[0]
    assert image.shape == (3, 8, 8) and abs(float(image.max()) - 120 / 255) < 1e-6
    assert isinstance(data.train, SegmentationDataset)
    whole = load_dataset(DatasetSpec(name="toy", path=str(tmp_path)).source(), split, seed=0)
    _, mask = whole.train[0]
    assert mask[:, 8:].eq(1).all() and mask[:, :8].eq(0).all()


def test_geometric_policy_is_the_em_theses_transforms_each_at_half():
    # 004 §3.4: vertical/horizontal flip, rotate90, transpose and grid distortion, each p = 0.5
    # (its resize is to the tile size we already train at).
    transforms = build_policy("geometric", channels=1).transforms
    names = sorted(type(t).__name__ for t in transforms)
    assert names == ["GridDistortion", "HorizontalFlip", "RandomRotate90", "Transpose", "VerticalFlip"]
    assert all(t.p == 0.5 for t in transforms)
