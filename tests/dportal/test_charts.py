"""Chart geometry for the portal's inline SVG charts."""

from __future__ import annotations

import pytest

from dportal.charts import bar_chart, column_chart, label_step, nice_ticks


@pytest.mark.parametrize(
    ("maximum", "expected"),
    [(0, [0, 1]), (1, [0, 1]), (3, [0, 1, 2, 3]), (7, [0, 2, 4, 6, 8]), (100, [0, 50, 100]), (23, [0, 10, 20, 30])],
)
def test_it_picks_round_ticks_that_cover_the_maximum(maximum, expected):
    assert nice_ticks(maximum) == expected


def test_it_scales_columns_to_the_top_tick():
    chart = column_chart(["a", "b"], {"sales": [2, 4]}, width=236, height=132)
    # plot: x 36..228, y 8..108; ticks 0..4 so 4 fills the plot
    low, high = chart.bars
    assert chart.ticks[-1].value == 4
    assert chart.ticks[-1].position == pytest.approx(8)
    assert high.height == pytest.approx(100)
    assert high.y == pytest.approx(8)
    assert low.height == pytest.approx(50)
    assert low.y == pytest.approx(58)
    assert low.x < high.x
    assert not chart.empty


def test_it_places_series_side_by_side_inside_each_group():
    chart = column_chart(["d1", "d2"], {"started": [1, 0], "terminated": [0, 1]})
    started, terminated, *_ = chart.bars
    assert (started.series, terminated.series) == ("started", "terminated")
    assert started.category == terminated.category == "d1"
    assert terminated.x == pytest.approx(started.x + started.width)
    slot = (chart.plot_right - chart.plot_left) / 2
    assert chart.bars[2].x == pytest.approx(started.x + slot)
    assert chart.series == ("started", "terminated")


def test_it_marks_an_all_zero_chart_empty_and_draws_no_height():
    chart = column_chart(["d1", "d2"], {"sales": [0, 0]})
    assert chart.empty
    assert all(bar.height == 0 for bar in chart.bars)


def test_it_thins_labels_when_days_crowd_the_axis():
    days = [f"11-{d:02d}" for d in range(1, 31)]
    chart = column_chart(days, {"sales": [1] * 30})
    assert label_step(30) == 4
    assert [label.text for label in chart.labels] == days[::4]
    assert len(chart.labels) <= 8


def test_it_refuses_series_that_do_not_match_the_categories():
    with pytest.raises(ValueError, match="2 values for 3 categories"):
        column_chart(["a", "b", "c"], {"sales": [1, 2]})
    with pytest.raises(ValueError, match="negative"):
        column_chart(["a"], {"sales": [-1]})


def test_it_draws_used_seats_against_their_capacity():
    chart = bar_chart([("#1", 2, 4), ("#2", 1, None)], width=218, label_width=10)
    # plot x 10..210 and ticks 0..4: one seat is 50 units wide
    first, second = chart.bars
    assert first.width == pytest.approx(100)
    assert second.width == pytest.approx(50)
    (track,) = chart.tracks  # "#2" is unlimited: no track
    assert track.category == "#1"
    assert track.width == pytest.approx(200)
    assert first.y < second.y
    assert [label.text for label in chart.labels] == ["#1", "#2"]


def test_it_says_an_empty_bar_chart_is_empty():
    chart = bar_chart([])
    assert chart.empty
    assert chart.bars == ()
    assert chart.horizontal
    with pytest.raises(ValueError, match="negative"):
        bar_chart([("#1", -1, 2)])


def test_it_labels_the_portal_charts_with_days_and_licences():
    from datetime import date

    from dportal.charts import instances_chart, sales_chart, seats_chart

    sales = sales_chart([(date(2026, 11, 23), 1), (date(2026, 11, 24), 3)])
    assert [label.text for label in sales.labels] == ["11-23", "11-24"]
    assert [bar.value for bar in sales.bars] == [1, 3]
    runs = instances_chart([(date(2026, 11, 24), 2, 1)])
    assert [(bar.series, bar.value) for bar in runs.bars] == [("started", 2), ("terminated", 1)]
    seats = seats_chart([(7, 1, 2), (1194199278007015005, 3, 0)])
    assert [label.text for label in seats.labels] == ["#7", "#…015005"]
    assert len(seats.tracks) == 1  # licence #8 is unlimited
