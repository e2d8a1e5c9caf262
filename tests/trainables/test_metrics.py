import math

import torch

from trainables.metrics import confusion_matrix, iou_per_class, mean_iou


def test_confusion_matrix_and_iou_by_hand():
    target = torch.tensor([[0, 0, 1, 1], [1, 1, 2, 2]])
    pred = torch.tensor([[0, 1, 1, 1], [1, 0, 2, 1]])
    confusion = confusion_matrix(pred, target, 3)
    # rows: truth, columns: prediction
    assert confusion.tolist() == [[1, 1, 0], [1, 3, 0], [0, 1, 1]]
    ious = iou_per_class(confusion).tolist()
    assert math.isclose(ious[0], 1 / 3)  # tp 1, fp 1, fn 1
    assert math.isclose(ious[1], 3 / 6)  # tp 3, fp 2, fn 1
    assert math.isclose(ious[2], 1 / 2)  # tp 1, fn 1
    assert math.isclose(mean_iou(confusion), (1 / 3 + 1 / 2 + 1 / 2) / 3)


def test_absent_class_is_nan_and_excluded_from_the_mean():
    confusion = confusion_matrix(torch.tensor([0, 0, 1]), torch.tensor([0, 0, 1]), 3)
    ious = iou_per_class(confusion)
    assert math.isnan(ious[2]) and mean_iou(confusion) == 1.0
