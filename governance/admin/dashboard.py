"""A dashboard per catalog in the admin: counts and three bar charts drawn on the server as
inline SVG (no JavaScript), each with a title, a description and its data as a table.

Anyone who may read a catalog (every catalog role, global administrators) opens its
dashboard at /admin/catalogs/<id>/dashboard/; any other catalog is a 404. The numbers come
from governance.selectors.dashboard; this module only lays them out.
"""

import math
from dataclasses import dataclass
from datetime import timedelta

from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.formats import date_format

from governance.selectors.dashboard import (
    APPROVAL_DAYS,
    EXPIRY_DAYS,
    WEEKS,
    CatalogDashboard,
    catalog_dashboard,
)

# Shorter names of the time-to-approve buckets, to fit under their bars.
APPROVAL_AXIS_LABELS = ["< 1 h", "1–8 h", "8–24 h", "1–3 days", "3–7 days", "7–14 days",
                        "14+ days"]
# The drawing's own units; the SVG scales to the width of the page.
WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 12, 44


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int
    text_x: float
    axis_label: str
    show_label: bool


@dataclass(frozen=True)
class Tick:
    value: int
    y: float


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    description: str
    label_heading: str
    value_heading: str
    bars: list[Bar]
    ticks: list[Tick]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    baseline: int = HEIGHT - BOTTOM
    label_y: int = HEIGHT - BOTTOM + 16

    @property
    def total(self) -> int:
        return sum(bar.value for bar in self.bars)


def _axis_step(largest: int) -> int:
    """The step between the four gridlines above zero: 1, 2, 5, 10, 20, 50…"""
    needed = max(largest, 1) / 4
    magnitude = 10 ** max(math.floor(math.log10(needed)), 0)
    for step in (1, 2, 5, 10):
        if step * magnitude >= needed:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def bar_chart(*, id: str, title: str, description: str, points: list[tuple[str, int]],
              label_heading: str, value_heading: str, label_every: int = 1,
              axis_labels: list[str] | None = None) -> BarChart:
    """Lay out `points` (label, value) as bars; every `label_every`-th bar shows its label
    under the axis (or its `axis_labels` entry, a shorter one)."""
    step = _axis_step(max((value for _, value in points), default=0))
    top = 4 * step
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(points), 1)
    gap = min(slot * 0.2, 8)
    bars = []
    for index, (label, value) in enumerate(points):
        height = plot_height * value / top
        x = LEFT + index * slot + gap / 2
        bars.append(Bar(x=round(x, 1), y=round(TOP + plot_height - height, 1),
                        width=round(slot - gap, 1), height=round(height, 1), label=label,
                        value=value, text_x=round(x + (slot - gap) / 2, 1),
                        axis_label=axis_labels[index] if axis_labels else label,
                        show_label=index % label_every == 0))
    ticks = [Tick(value=step * n, y=round(TOP + plot_height * (1 - n / 4), 1))
             for n in range(5)]
    return BarChart(id=id, title=title, description=description, bars=bars, ticks=ticks,
                    label_heading=label_heading, value_heading=value_heading)


def duration_words(duration: timedelta | None) -> str:
    """“45 minutes”, “3 hours 20 minutes”, “2 days 4 hours”."""
    if duration is None:
        return "—"
    minutes = int(duration.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)

    def unit(n, word):
        return f"{n} {word}" if n == 1 else f"{n} {word}s"

    if days:
        return " ".join([unit(days, "day")] + ([unit(hours, "hour")] if hours else []))
    if hours:
        return " ".join([unit(hours, "hour")] + ([unit(minutes, "minute")] if minutes else []))
    return unit(minutes, "minute")


def _many(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _short(day) -> str:
    return date_format(day, "j M")


def charts(dashboard: CatalogDashboard) -> list[BarChart]:
    weeks = dashboard.requests_per_week
    asked = sum(n for _, n in weeks)
    busiest = max(weeks, key=lambda point: point[1])
    requests = bar_chart(
        id="requests-per-week", title=f"Requests per week, last {WEEKS} weeks",
        description=(f"{_many(asked, 'request')} from the week of {_short(weeks[0][0])} to "
                     f"the week of {_short(weeks[-1][0])}"
                     + (f"; the busiest week, of {_short(busiest[0])}, had {busiest[1]}."
                        if asked else ".")),
        points=[(_short(week), n) for week, n in weeks],
        label_heading="Week of", value_heading="Requests", label_every=2)
    times = dashboard.approval_times
    approvals = bar_chart(
        id="time-to-approve", title=f"Time to approve, last {APPROVAL_DAYS} days",
        description=(f"{_many(times.count, 'request')} finally approved; the median time "
                     f"from submission to the last approval was "
                     f"{duration_words(times.median)}."
                     if times.count else
                     f"No request needed and received approval in the last {APPROVAL_DAYS} "
                     "days."),
        points=times.buckets, label_heading="Time from submission to approval",
        value_heading="Requests", axis_labels=APPROVAL_AXIS_LABELS)
    days = dashboard.expiring_per_day
    ending = sum(n for _, n in days)
    first_week = sum(n for _, n in days[:7])
    expiring = bar_chart(
        id="expiring", title=f"Assignments expiring in the next {EXPIRY_DAYS} days",
        description=(f"{_many(ending, 'assignment')} ending from {_short(days[0][0])} to "
                     f"{_short(days[-1][0])}, {first_week} of them in the next 7 days."),
        points=[(_short(day), n) for day, n in days], label_heading="Day",
        value_heading="Assignments ending", label_every=7)
    return [requests, approvals, expiring]


def catalog_dashboard_view(request, catalog_id: int, *, site):
    dashboard = catalog_dashboard(request.user, catalog_id)
    if dashboard is None:
        raise Http404("No catalog of yours has this id.")
    counts = dashboard.counts
    context = {
        **site.each_context(request),
        "title": f"Dashboard: {dashboard.catalog}",
        "dashboard": dashboard,
        "tiles": [("Access packages", counts.packages),
                  ("Active assignments", counts.active_assignments),
                  ("Pending requests", counts.pending_requests),
                  ("Delivery failures", counts.delivery_failures)],
        "median": duration_words(dashboard.approval_times.median),
        "time_zone": timezone.get_current_timezone_name(),
        "charts": charts(dashboard),
    }
    return TemplateResponse(request, "admin/governance/dashboard/catalog.html", context)


def dashboard_urls(site) -> list:
    """The dashboard's URL, for PortalAdminSite.get_urls."""

    def view(request, catalog_id):
        return catalog_dashboard_view(request, catalog_id, site=site)

    return [path("catalogs/<int:catalog_id>/dashboard/", site.admin_view(view),
                 name="catalog_dashboard")]
