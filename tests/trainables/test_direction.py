import math

import pandas as pd

from trainables.direction import Direction


def test_better_never_picks_nan_and_anything_beats_nothing():
    assert Direction.MAX.better(0.5, 0.4) and not Direction.MAX.better(0.4, 0.5)
    assert Direction.MIN.better(0.4, 0.5) and not Direction.MIN.better(0.5, 0.4)
    assert Direction.MAX.better(0.1, None) and Direction.MIN.better(0.1, math.nan)
    assert not Direction.MAX.better(math.nan, 0.1) and not Direction.MIN.better(None, None)
    assert not Direction.MAX.better(0.5, 0.5)  # ties keep the first


def test_best_and_best_of_skip_nan_and_keep_the_first_of_ties():
    values = [0.3, math.nan, 0.7, 0.1, 0.7]
    assert Direction.MAX.best(values) == 0.7 and Direction.MIN.best(values) == 0.1
    assert math.isnan(Direction.MAX.best([math.nan, None]))
    rows = [{"id": i, "v": v} for i, v in enumerate(values)]
    assert Direction.MAX.best_of(rows, key=lambda r: r["v"])["id"] == 2
    assert Direction.MIN.best_of(rows, key=lambda r: r["v"])["id"] == 3
    assert Direction.MAX.best_of([{"v": None}], key=lambda r: r["v"]) is None


def test_sorting_puts_the_best_first_and_nan_last():
    values = [0.3, math.nan, 0.7, 0.1]
    assert sorted(values, key=Direction.MAX.sort_key)[:3] == [0.7, 0.3, 0.1]
    assert sorted(values, key=Direction.MIN.sort_key)[:3] == [0.1, 0.3, 0.7]
    frame = pd.DataFrame({"v": values})
    assert frame.sort_values("v", ascending=Direction.MIN.ascending)["v"].iloc[0] == 0.1
    assert frame.sort_values("v", ascending=Direction.MAX.ascending)["v"].iloc[0] == 0.7


def test_running_best_and_aggregate_follow_the_direction():
    series = pd.Series([0.2, 0.5, 0.3])
    assert Direction.MAX.running_best(series).tolist() == [0.2, 0.5, 0.5]
    assert Direction.MIN.running_best(series).tolist() == [0.2, 0.2, 0.2]
    assert series.agg(Direction.MAX.aggregate) == 0.5 and series.agg(Direction.MIN.aggregate) == 0.2
    assert Direction("max") is Direction.MAX and Direction.MIN == "min"
