"""The inline SVG bar charts: bars inside the box, heights in proportion, gaps for missing days,
and a round top at or just above the largest value."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from meterhub.portal import charts

values = st.lists(st.one_of(st.none(), st.floats(min_value=0, max_value=1e7, allow_nan=False)), min_size=1,
                  max_size=40)


@given(st.floats(min_value=1e-6, max_value=1e12, allow_nan=False))
def test_the_top_is_round_and_at_most_two_and_a_half_times_the_largest(value):
    top = charts.nice_ceiling(value)
    assert value <= top * (1 + 1e-9) and top <= 2.5 * value * (1 + 1e-9)
    mantissa = top / 10 ** math.floor(math.log10(top) + 1e-12)
    assert any(math.isclose(mantissa, m) for m in (1, 2, 2.5, 5, 10))


@given(values)
def test_bars_stay_inside_the_plot_and_are_in_proportion(series):
    chart = charts.bar_chart(series, [str(i) for i in range(len(series))], tick_every=7)
    assert len(chart.bars) == sum(v is not None for v in series), "no bar for a missing value, not a zero"
    for bar in chart.bars:
        assert chart.left <= bar.x and bar.x + bar.width <= chart.width - charts.RIGHT + 1e-9
        assert charts.TOP - 1e-9 <= bar.y and math.isclose(bar.y + bar.height, chart.baseline)
        assert math.isclose(bar.height, bar.value / chart.top * (chart.baseline - charts.TOP), abs_tol=1e-9)
    xs = [b.x for b in chart.bars]
    assert xs == sorted(xs)
    assert chart.ticks[-1][1] == str(len(series) - 1), "the latest is always labelled"


def test_nothing_to_draw_draws_an_empty_scale():
    chart = charts.bar_chart([None, None], ["a", "b"])
    assert chart.bars == [] and chart.top == 1.0 and [label for _y, label in chart.gridlines] == ["0", "0.5", "1"]
