"""Charts of the daily report, rendered headless to PNG bytes.

Uses matplotlib's object API with the Agg canvas (no pyplot, no display, no global state), so it is
safe in Dagster's run workers and threads.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class HourFigures:
    """Sales of one hour of the day."""

    hour: int
    orders: int
    revenue: Decimal


@dataclass(frozen=True)
class ProductFigures:
    """Sales of one product on the day."""

    name: str
    category: str
    orders: int
    units: int
    revenue: Decimal


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def render_daily_chart(
    day: str,
    hours: Sequence[HourFigures],
    top_products: Sequence[ProductFigures],
    *,
    revenue: Decimal,
    orders: int,
    dpi: int = 90,
) -> bytes:
    """A PNG with the day's revenue and orders by hour (left) and its top products by revenue (right)."""
    # Imported here: matplotlib costs ~0.6 s to import, which every Dagster run process and code
    # server would pay at start-up for a chart only the daily report draws.
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazy: see the comment above
    from matplotlib.figure import Figure  # lazy: see the comment above

    figure = Figure(figsize=(11, 4.2), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    by_hour, products = figure.subplots(1, 2, width_ratios=(3, 2))

    revenue_by_hour = [0.0] * 24
    orders_by_hour = [0] * 24
    for item in hours:
        if 0 <= item.hour < 24:
            revenue_by_hour[item.hour] = float(item.revenue)
            orders_by_hour[item.hour] = item.orders
    by_hour.bar(range(24), revenue_by_hour, color="#3b7dd8", label="revenue")
    by_hour.set_xticks(range(0, 24, 2))
    by_hour.set_xlabel("hour of order creation (UTC)")
    by_hour.set_ylabel("revenue")
    by_hour.set_title("Revenue and orders by hour")
    orders_axis = by_hour.twinx()
    orders_axis.plot(range(24), orders_by_hour, color="#e07b39", marker="o", markersize=3, label="orders")
    orders_axis.set_ylabel("orders")
    orders_axis.set_ylim(bottom=0)

    if top_products:
        names = [f"{item.name[:28]}" for item in reversed(top_products)]
        values = [float(item.revenue) for item in reversed(top_products)]
        products.barh(names, values, color="#5aa469")
        products.tick_params(axis="y", labelsize=8)
    else:
        products.text(0.5, 0.5, "no sales", ha="center", va="center", transform=products.transAxes)
        products.set_yticks([])
    products.set_title("Top products by revenue")
    products.set_xlabel("revenue")

    figure.suptitle(f"Sales on {day}: revenue {_money(revenue)}, {orders} orders")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
