import numpy as np
import yaml
from PIL import Image

from trainables.data import load_dataset, split_indices, synthetic_cells


def test_synthetic_cells_are_seeded_and_masks_match_the_bright_blobs():
    images, masks = synthetic_cells(4, 32, seed=5)
    again, _ = synthetic_cells(4, 32, seed=5)
    assert np.array_equal(images, again) and images.shape == (4, 1, 32, 32)
    assert set(np.unique(masks)) == {0, 1}
    assert images[:, 0][masks == 1].mean() > images[:, 0][masks == 0].mean() + 0.2


def test_split_is_deterministic_and_disjoint():
    train, val = split_indices(20, 0.25, seed=3)
    assert len(val) == 5 and not set(train) & set(val) and len(train) + len(val) == 20
    assert np.array_equal(split_indices(20, 0.25, seed=3)[1], val)


def test_folder_dataset_maps_mask_values_to_classes(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    manifest = {"name": "toy", "channels": 1, "classes": [{"name": "membrane", "value": 0}, {"name": "cell", "value": 255}]}
    (tmp_path / "dataset.yaml").write_text(yaml.safe_dump(manifest))
    for i in range(4):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(tmp_path / "images" / f"{i}.png")
        mask = np.zeros((8, 8), np.uint8)
        mask[:, 4:] = 255
        Image.fromarray(mask).save(tmp_path / "masks" / f"{i}.png")
    data = load_dataset({"kind": "folder", "path": str(tmp_path), "val_fraction": 0.25, "seed": 0})
    assert data.class_names == ["membrane", "cell"]
    assert data.train.images.shape == (3, 1, 8, 8) and data.val.masks.shape == (1, 8, 8)
    assert data.train.masks[:, :, 4:].eq(1).all() and data.train.masks[:, :, :4].eq(0).all()
