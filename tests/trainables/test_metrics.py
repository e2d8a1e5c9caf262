import math

import torch

from trainables.metrics import confusion_matrix, iou_per_class, mean_iou, subset_presence_accuracy


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


from trainables.metrics import (  # noqa: E402
    crack_metrics,
    defect_presence,
    image_level_errors,
    per_source_crack_iou,
    split_metrics,
    threshold_sweep,
)


def test_split_metrics_by_hand():
    # truth rows, prediction columns; classes background, a, b
    confusion = torch.tensor([[5, 1, 0], [2, 3, 1], [0, 0, 0]])
    m = split_metrics(confusion, ["background", "a", "b"])
    assert math.isclose(m["iou_background"], 5 / 8) and math.isclose(m["iou_a"], 3 / 7)
    assert math.isnan(m["iou_b"]) is False and m["iou_b"] == 0.0  # predicted once, never true: IoU 0, not NaN
    assert math.isclose(m["miou"], (5 / 8 + 3 / 7 + 0) / 3)
    assert math.isclose(m["miou_fg"], (3 / 7 + 0) / 2)
    assert math.isclose(m["dice_a"], 6 / 10) and math.isclose(m["pixel_accuracy"], 8 / 12)
    assert math.isclose(m["precision_mean"], (5 / 7 + 3 / 4 + 0) / 3)
    assert math.isclose(m["recall_mean"], (5 / 6 + 3 / 6) / 2)  # class b has no true pixels: NaN, left out


def test_empty_class_is_nan_everywhere_and_excluded():
    m = split_metrics(torch.tensor([[4, 0, 0], [0, 2, 0], [0, 0, 0]]), ["background", "x", "y"])
    assert math.isnan(m["iou_y"]) and math.isnan(m["dice_y"]) and m["miou"] == 1.0 and m["miou_fg"] == 1.0


def test_crack_metrics_by_hand():
    confusion = torch.tensor([[90, 4], [2, 4]])  # background 0, crack 1
    m = crack_metrics(confusion)
    assert math.isclose(m["crack_iou"], 4 / 10) and math.isclose(m["background_iou"], 90 / 96)
    assert math.isclose(m["crack_precision"], 4 / 8) and math.isclose(m["crack_recall"], 4 / 6)
    assert math.isclose(m["crack_f1"], 8 / 14) and math.isclose(m["background_f1"], 180 / 186)


def test_crack_iou_per_source_pools_the_pixels_of_each_sources_images():
    # 002 Table 2: crack IoU per source dataset. Pooled counts, not a mean of per-image IoUs.
    per_image = [
        ("CFD_1", torch.tensor([[10, 0], [2, 2]])),  # IoU 2/4
        ("CFD_2", torch.tensor([[10, 2], [0, 6]])),  # IoU 6/8
        ("Volker_1", torch.tensor([[10, 1], [1, 1]])),
        ("unknown", torch.tensor([[1, 0], [0, 1]])),  # no recorded source: left out
    ]
    sources = {"CFD_1": "cfd", "CFD_2": "cfd", "Volker_1": "volker"}
    assert per_source_crack_iou(per_image, sources) == {"crack_iou_cfd": 8 / 12, "crack_iou_volker": 1 / 3}


def test_image_level_false_positives_and_negatives():
    empty, crack = torch.zeros(4, 4, dtype=torch.long), torch.eye(4, dtype=torch.long)
    errors = image_level_errors([crack, empty, crack, empty], [empty, crack, crack, empty])
    assert errors == {"image_false_positives": 1, "image_false_negatives": 1}


def test_threshold_sweep_covers_050_and_090_to_098():
    probabilities = torch.tensor([0.2, 0.6, 0.95, 0.97])
    target = torch.tensor([0, 1, 1, 1])
    sweep = threshold_sweep(probabilities, target)
    assert list(sweep) == [0.5, 0.9, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97, 0.98]
    assert (
        sweep[0.5] == 1.0
        and math.isclose(sweep[0.95], 2 / 3)
        and math.isclose(sweep[0.96], 1 / 3)
        and sweep[0.98] == 0.0
    )


def test_defect_presence_floors_the_prediction_only():
    # 003 §6: predicted present with >= min_pixels pixels; truly present with any labelled pixel.
    one_pixel = torch.zeros(4, 4, dtype=torch.long)
    one_pixel[0, 0] = 1
    big = torch.zeros(4, 4, dtype=torch.long)
    big[:2] = 1
    result = defect_presence([one_pixel, big], [big, big], num_classes=2, min_pixels=3)
    assert result[1]["confusion"] == [[0, 0], [1, 1]] and result[1]["accuracy"] == 0.5
    # a one-pixel defect in the truth is a defect: predicting none of it is a miss, not a true negative
    nothing = torch.zeros(4, 4, dtype=torch.long)
    result = defect_presence([nothing, big], [one_pixel, one_pixel], num_classes=2, min_pixels=3)
    assert result[1]["confusion"] == [[0, 0], [1, 1]]


def test_subset_accuracy_counts_images_with_every_defect_type_judged_right():
    # 003 §6: an image counts only when all of its defect types are right (present or absent).
    truth = torch.tensor([[1, 2], [0, 0]])
    both_right = torch.tensor([[1, 2], [0, 0]])
    one_missed = torch.tensor([[1, 0], [0, 0]])
    none_there_none_said = torch.zeros(2, 2, dtype=torch.long)
    images = [both_right, one_missed, none_there_none_said]
    truths = [truth, truth, torch.zeros(2, 2, dtype=torch.long)]
    assert subset_presence_accuracy(images, truths, num_classes=3) == 2 / 3
    per_type = defect_presence(images, truths, num_classes=3)
    assert per_type[1]["accuracy"] == 1.0 and per_type[2]["accuracy"] == 2 / 3


def test_the_background_left_out_of_miou_fg_is_the_class_named_background():
    # classes membrane, mitochondria, background (the ssTEM order puts background last)
    confusion = torch.tensor([[3, 1, 0], [0, 2, 0], [0, 0, 4]])
    m = split_metrics(confusion, ["membrane", "mitochondria", "background"])
    assert math.isclose(m["miou_fg"], (3 / 4 + 2 / 3) / 2)
    # 003 §5.2.1: the mean Dice over the defect classes only
    assert math.isclose(m["dice_mean_fg"], (2 * 3 / (4 + 3) + 2 * 2 / (3 + 2)) / 2)
    assert not math.isclose(m["dice_mean_fg"], m["dice_mean"])
    assert math.isclose(split_metrics(confusion, ["a", "b", "c"])["miou_fg"], (2 / 3 + 1) / 2)  # else class 0


def test_the_metric_names_drivers_use_without_torch_are_what_split_metrics_returns():
    import torch

    from trainables.metric_names import metric_names

    for classes in (["background", "cell"], ["background", "a", "b", "c", "d"]):
        assert list(split_metrics(torch.zeros(len(classes), len(classes)), classes)) == metric_names(classes)
