"""Chart helpers that decide what a reader sees (chiso.charts)."""

from __future__ import annotations

import polars as pl

from chiso import charts


def test_counts_on_stacked_bars_are_plain_and_narrow_segments_are_labelled_above():
    # 2026-10: one unit "Tốt", 63 "Khá", one "Trung bình" in a single bar of 65
    labels = charts.segment_labels([[0, 1, 63, 1]])
    assert [(text, inside) for _, _, text, inside in labels] == [("1", False), ("63", True), ("1", False)]
    assert [x for x, *_ in labels] == [0.5, 32.5, 64.5]
    # two bars, the longest 51: a segment of 1 is too narrow for its digit (room 1,43 per digit), 2 is not
    labels = charts.segment_labels([[1, 12, 0], [40, 2, 9]])
    assert [(i, text, inside) for _, i, text, inside in labels] == [
        (0, "1", False), (0, "12", True), (1, "40", True), (1, "2", True), (1, "9", True)]
    assert charts.segment_labels([]) == [] and charts.segment_labels([[0, 0]]) == []


def test_tier_chart_renders_with_a_label_above_a_narrow_segment():
    tc = pl.DataFrame({"unit_group": ["Sở, ban, ngành"] * 2 + ["UBND cấp xã"] * 3,
                       "tier": ["Tốt", "Khá", "Tốt", "Khá", "Trung bình"], "count": [1, 12, 40, 2, 9]})
    svg = charts.tier_distribution(tc, ["Xuất sắc", "Tốt", "Khá", "Trung bình"], "Số đơn vị theo xếp loại")
    assert svg.startswith("<?xml") and svg.count("<g id=\"patch_") >= 8
