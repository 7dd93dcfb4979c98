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


def test_tier_chart_writes_the_labels_where_segment_labels_puts_them(monkeypatch):
    from matplotlib.axes import Axes

    written = []
    real = Axes.text

    def record(self, x, y, s, *args, **kwargs):
        written.append((x, y, s, kwargs.get("va")))
        return real(self, x, y, s, *args, **kwargs)

    monkeypatch.setattr(Axes, "text", record)
    tc = pl.DataFrame({"unit_group": ["Sở, ban, ngành"] * 2 + ["UBND cấp xã"] * 3,
                       "tier": ["Tốt", "Khá", "Tốt", "Khá", "Trung bình"], "count": [1, 12, 40, 2, 9]})
    svg = charts.tier_distribution(tc, ["Xuất sắc", "Tốt", "Khá", "Trung bình"], "Số đơn vị theo xếp loại")
    assert svg.startswith("<?xml")
    counts = [(x, y, s, va) for x, y, s, va in written if s.isdigit()]
    # "1" of the first bar above it (bar 0 spans y -0,3..0,3), the others centred in their segment
    assert counts == [(0.5, -0.34, "1", "bottom"), (7.0, 0, "12", "center"), (20.0, 1, "40", "center"),
                      (41.0, 1, "2", "center"), (46.5, 1, "9", "center")]
