"""What the owner dashboard shows, built from two reports (this period and the one before).

Cards compare each figure with the previous period; charts are unfold chart components
fed with Chart.js data as JSON.
"""

import json
from typing import Any

from bookings.models import BookingChannel, BookingStatus
from reports.figures import FIGURE_LABELS, SHARES, Figures, Report, format_count, format_figure, format_share

CARDS = (
    "new", "confirmed", "completed", "cancelled", "no_show",
    "returning_clients", "returning_share", "telegram_share", "telegram_client_share",
)
TOP_SERVICES = 10
CHANNEL_COLOURS = {
    BookingChannel.TELEGRAM: "#229ED9",
    BookingChannel.WEB: "#6366F1",
    BookingChannel.PHONE: "#F59E0B",
    BookingChannel.API: "#10B981",
}
STACKED_BARS = {
    "responsive": True, "maintainAspectRatio": False, "animation": False,
    "plugins": {"legend": {"display": True, "position": "bottom"}},
    "scales": {"x": {"stacked": True, "grid": {"display": False}},
               "y": {"stacked": True, "beginAtZero": True, "ticks": {"precision": 0}}},
}
HORIZONTAL_BARS = {
    "indexAxis": "y", "responsive": True, "maintainAspectRatio": False, "animation": False,
    "plugins": {"legend": {"display": False}},
    "scales": {"x": {"beginAtZero": True, "ticks": {"precision": 0}}, "y": {"grid": {"display": False}}},
}
PERCENT_BARS = {
    "responsive": True, "maintainAspectRatio": False, "animation": False,
    "plugins": {"legend": {"display": False}},
    "scales": {"y": {"beginAtZero": True, "suggestedMax": 100}, "x": {"grid": {"display": False}}},
}


def _value(figures: Figures, name: str) -> int | float:
    return getattr(figures, name) or 0


def _delta(name: str, now: int | float, before: int | float) -> tuple[str, str]:
    """The change against the previous period as text, and whether it is up, down or flat."""
    if name in SHARES:
        diff = round((now - before) * 100, 1)
        text = f"{diff:+.1f}".replace(".", ",") + " п.п."
    else:
        diff = now - before
        text = f"{diff:+d}" + (f" / {diff / before * 100:+.0f} %" if before else "")
    if not diff:
        return "без изменений", "flat"
    return text.replace("-", "−"), "up" if diff > 0 else "down"


def cards(report: Report, previous: Report) -> list[dict[str, Any]]:
    result = []
    for name in CARDS:
        now, before = _value(report.total, name), _value(previous.total, name)
        delta, trend = _delta(name, now, before)
        result.append({
            "name": name, "title": FIGURE_LABELS[name], "value": round(now, 4) if name in SHARES else now,
            "text": format_figure(name, now), "previous": format_figure(name, before), "delta": delta, "trend": trend,
        })
    return result


def _chart(labels: list[str], datasets: list[dict]) -> str:
    return json.dumps({"labels": labels, "datasets": datasets}, ensure_ascii=False)


def bookings_by_day_chart(report: Report) -> str:
    """New bookings per local day, one stacked series per channel."""
    days = list(report.by_day)
    datasets = [
        {"label": BookingChannel(channel).label, "backgroundColor": colour,
         "data": [report.new_by_day_channel.get((day, channel), 0) for day in days]}
        for channel, colour in CHANNEL_COLOURS.items()
    ]
    return _chart([f"{day:%d.%m}" for day in days], datasets)


def funnel_chart(report: Report) -> str:
    """The new bookings of the period: how many were confirmed, and where they stand now."""
    steps = [
        ("Новые записи", report.total.new),
        ("Подтверждены", report.total.confirmed),
        ("Выполнены", report.funnel.get(BookingStatus.COMPLETED, 0)),
        ("Ждут визита", report.funnel.get(BookingStatus.NEW, 0) + report.funnel.get(BookingStatus.CONFIRMED, 0)),
        ("Не приехали", report.funnel.get(BookingStatus.NO_SHOW, 0)),
        ("Отменены", report.funnel.get(BookingStatus.CANCELLED, 0)),
    ]
    return _chart([label for label, _ in steps],
                  [{"label": "Записи", "backgroundColor": "var(--color-primary-600)", "data": [n for _, n in steps]}])


def returning_chart(report: Report) -> str:
    """Share of returning clients among the clients who came, per local day."""
    days = list(report.by_day)
    data = [round(report.by_day[day].returning_share * 100, 1) for day in days]
    return _chart([f"{day:%d.%m}" for day in days], [{
        "label": "Доля вернувшихся, %", "data": data, "borderColor": "var(--color-primary-600)",
        "displayYAxis": True, "suffixYAxis": "%", "maxTicksXLimit": 10,
    }])


def occupancy_chart(report: Report) -> str:
    """Booked minutes ÷ open minutes per branch, in per cent."""
    labels = [w.name for w in report.workshops]
    data = [round(report.occupancy[w.pk].share * 100, 1) for w in report.workshops]
    return _chart(labels, [{"label": "Загрузка постов, %", "backgroundColor": "var(--color-primary-600)",
                            "data": data, "maxBarThickness": 48}])


def top_services_table(report: Report) -> dict[str, Any]:
    ranked = sorted(report.by_service.items(), key=lambda item: (-item[1].new, -item[1].completed,
                                                                 report.service_names.get(item[0], "")))
    return {
        "headers": ["Услуга", "Новые записи", "Выполненные визиты", "Отменены"],
        "rows": [[report.service_names.get(pk, "—"), format_count(f.new), format_count(f.completed),
                  format_count(f.cancelled)] for pk, f in ranked[:TOP_SERVICES]],
    }


def branches_table(report: Report) -> dict[str, Any]:
    names = ("new", "confirmed", "completed", "cancelled", "no_show", "returning_share", "telegram_share")
    return {
        "headers": ["Филиал", *(FIGURE_LABELS[name] for name in names), "Загрузка постов"],
        "rows": [
            [w.name, *(format_figure(name, getattr(report.by_branch[w.pk], name)) for name in names),
             format_share(report.occupancy[w.pk].share)]
            for w in report.workshops
        ],
    }


def dashboard_context(report: Report, previous: Report) -> dict[str, Any]:
    return {
        "report": report,
        "previous": previous,
        "cards": cards(report, previous),
        "bookings_chart": bookings_by_day_chart(report),
        "funnel_chart": funnel_chart(report),
        "returning_chart": returning_chart(report),
        "occupancy_chart": occupancy_chart(report),
        "stacked_options": json.dumps(STACKED_BARS),
        "horizontal_options": json.dumps(HORIZONTAL_BARS),
        "percent_options": json.dumps(PERCENT_BARS),
        "top_services": top_services_table(report),
        "branches": branches_table(report),
    }
