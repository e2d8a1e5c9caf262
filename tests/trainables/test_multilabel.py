"""Multi-label tasks (003 §5.1.3): bit masks, the multilabel head, its metrics and losses."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from trainables.data import synthetic_image
from trainables.heads import OutputHead
from trainables.labels import from_channels, has_class, normalising_lookup, to_channels
from trainables.losses import build_loss
from trainables.metrics import defect_presence, multilabel_confusion, split_metrics, subset_presence_accuracy

CLASSES = ["background", "class_1", "class_2"]


def test_bit_masks_round_trip_through_channels():
    mask = torch.tensor([[[0, 1], [2, 3]]])  # pixel (1, 1) holds both classes
    channels = to_channels(mask, 2)
    assert channels[0, 0].tolist() == [[0, 1], [0, 1]] and channels[0, 1].tolist() == [[0, 0], [1, 1]]
    assert torch.equal(from_channels(channels.bool()), mask)
    assert has_class(mask, 0, True).tolist() == [[[True, False], [False, False]]]
    assert has_class(mask, 2, True).tolist() == [[[False, False], [True, True]]]


def test_stored_values_are_normalised_to_one_bit_per_class_in_manifest_order():
    lookup = normalising_lookup([0, 16, 4])  # class_1 stored as 16, class_2 as 4
    assert lookup[[0, 16, 4, 20, 1]].tolist() == [0, 1, 2, 3, 0]


def test_the_multilabel_head_thresholds_each_class_on_its_own():
    head = OutputHead.MULTILABEL
    assert head.channels(len(CLASSES)) == 2
    logits = torch.tensor([[[[3.0, -3.0]], [[3.0, 0.5]]]])  # (1, 2 classes, 1, 2)
    assert head.predict(logits).tolist() == [[[3, 2]]]
    probabilities = head.probabilities(logits)[0]
    assert head.decide(probabilities, None).tolist() == [[3, 2]]  # 0.5 by default (003 §5.1.3)
    assert head.decide(probabilities, 0.7).tolist() == [[3, 0]]  # sigmoid(0.5) = 0.62 < 0.7


def test_multilabel_metrics_count_each_class_against_its_own_mask():
    truth = torch.tensor([3, 1, 0, 2])
    predicted = torch.tensor([1, 1, 2, 2])
    confusion = multilabel_confusion(predicted, truth, 3)
    # class_1: truth at pixels 0, 1; predicted at 0, 1 -> IoU 1. class_2: truth 0, 3; predicted 2, 3 -> 1/3.
    metrics = split_metrics(confusion, CLASSES)
    assert metrics["iou_class_1"] == 1.0 and metrics["iou_class_2"] == pytest.approx(1 / 3)
    assert metrics["dice_mean_fg"] == pytest.approx((1.0 + 0.5) / 2)
    assert metrics["iou_background"] == 0.0  # pixel 2: truth has nothing, a class_2 is predicted
    assert metrics["pixel_accuracy"] == pytest.approx((4 / 4 + 2 / 4) / 2)  # per class, averaged


def test_presence_of_overlapping_defects():
    truth = [np.array([3, 3, 0]), np.array([0, 0, 0])]
    predicted = [np.array([1, 1, 0]), np.array([2, 0, 0])]
    presence = defect_presence(predicted, truth, 3, min_pixels=1, multi_label=True)
    assert presence[1]["confusion"] == [[1, 0], [0, 1]]
    assert presence[2]["confusion"] == [[0, 1], [1, 0]]
    assert subset_presence_accuracy(predicted, truth, 3, multi_label=True) == 0.0
    # with a 2-pixel floor the single stray class_2 pixel of image 2 no longer counts
    assert subset_presence_accuracy(predicted, truth, 3, min_pixels=2, multi_label=True) == 0.5
    assert subset_presence_accuracy([truth[0], truth[1]], truth, 3, multi_label=True) == 1.0


def test_multilabel_bce_is_bce_on_each_class_channel():
    logits = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    target = torch.randint(0, 16, (2, 8, 8), generator=torch.Generator().manual_seed(1))
    expected = F.binary_cross_entropy_with_logits(logits, to_channels(target, 4).float())
    assert torch.isclose(build_loss("bce", multi_label=True)(logits, target), expected)
    assert build_loss({"bce": 0.5, "dice": 0.5}, multi_label=True)(logits, target) > 0
    with pytest.raises(ValueError, match="multilabel head trains with bce or dice, not 'ce'"):
        build_loss("ce", multi_label=True)


def test_synthetic_defects_are_seeded_multi_label_masks_with_overlaps():
    masks = [synthetic_image("defects", index, 64, seed=3)[1] for index in range(24)]
    assert np.array_equal(masks[5], synthetic_image("defects", 5, 64, seed=3)[1])
    values = np.unique(np.stack(masks))
    assert set(values.tolist()) <= set(range(16))
    assert any(bin(int(value)).count("1") >= 2 for value in values)  # some pixels hold two types
    assert all(any((mask & bit).any() for mask in masks) for bit in (1, 2, 4, 8))  # every type occurs
