"""The bookings list's parts: status badges, a count-free paginator, a local-date filter.

Kept apart from ``bookings/admin.py`` so the list's speed-related choices sit together.
"""

import zoneinfo
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta

from django.core.paginator import EmptyPage
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from unfold.contrib.filters.admin import DropdownFilter
from unfold.paginator import InfinitePage, InfinitePaginator

from bookings.models import BookingStatus
from workshops.dates import parse_plausible
from workshops.models import Workshop
from workshops.selectors import workshops_for_user

# Badge colours (unfold label variants); the journal's CSS uses the same colours.
STATUS_VARIANTS = {
    BookingStatus.NEW: "info",
    BookingStatus.CONFIRMED: "success",
    BookingStatus.COMPLETED: "primary",
    BookingStatus.NO_SHOW: "warning",
    BookingStatus.CANCELLED: "danger",
}


# The classes of unfold's label template (``unfold/helpers/label.html``) for each variant.
_BADGE = "inline-block font-semibold h-6 leading-6 px-2 rounded-default text-[11px] uppercase whitespace-nowrap "
BADGE_CLASSES = {
    status: _BADGE + {
        "info": "bg-blue-100 text-blue-700 dark:bg-blue-500/20 dark:text-blue-400",
        "success": "bg-green-100 text-green-700 dark:bg-green-500/20 dark:text-green-400",
        "primary": "bg-primary-100 text-primary-700 dark:bg-primary-500/20 dark:text-primary-400",
        "warning": "bg-orange-100 text-orange-700 dark:bg-orange-500/20 dark:text-orange-400",
        "danger": "bg-red-100 text-red-700 dark:bg-red-500/20 dark:text-red-400",
    }[variant]
    for status, variant in STATUS_VARIANTS.items()
}


class CappedPaginator(InfinitePaginator):
    """Unfold's count-free paginator, with a cap on depth and cheap deep pages.

    ``OFFSET`` over the joined rows costs more the deeper the page (1.2–1.6 s at the middle
    of a million rows). Past the first pages this one walks the index for the page's ids
    only, then loads those rows; past ``max_pages`` the list is empty and says to narrow it
    with a filter or the search.
    """

    max_pages = 100
    ids_first_from_page = 3
    template_name = "admin/bookings/pagination_capped.html"

    def validate_number(self, number):
        number = super().validate_number(number)
        if number > self.max_pages:
            raise EmptyPage("Слишком далеко: уточните фильтр или поиск.")
        return number

    def page(self, number):
        try:
            number = self.validate_number(number)
        except EmptyPage:
            return InfinitePage([], self.max_pages + 1, self)
        if number < self.ids_first_from_page or not hasattr(self.object_list, "values_list"):
            return super().page(number)
        bottom = (number - 1) * self.per_page
        ids = list(self.object_list.values_list("pk", flat=True)[bottom : bottom + self.per_page])
        rows = {row.pk: row for row in self.object_list.order_by().filter(pk__in=ids)}
        return InfinitePage([rows[pk] for pk in ids if pk in rows], number, self)


def local_days_q(workshops: Iterable[Workshop], days: Callable[[date], tuple[date, date]]) -> Q:
    """Bookings starting on local dates ``days(today) = (first, last)`` of their own branch.

    One ``(workshop IN …, starts_at range)`` term per time zone, which the
    ``(workshop, starts_at)`` index serves.
    """
    by_zone: dict[str, list[int]] = {}
    for workshop in workshops:
        by_zone.setdefault(workshop.timezone, []).append(workshop.pk)
    q = Q(pk__in=[])
    now = timezone.now()
    for zone, ids in by_zone.items():
        tz = zoneinfo.ZoneInfo(zone)
        first, last = days(now.astimezone(tz).date())
        start = datetime.combine(first, time(0), tzinfo=tz)
        end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
        q |= Q(workshop_id__in=ids, starts_at__gte=start, starts_at__lt=end)
    return q


class BookingDayFilter(DropdownFilter):
    """The visit date in each branch's own time zone («сегодня» in Yekaterinburg is its today).

    Also takes a date (``?day=2025-05-12``), which the journal links to.
    """

    title = "дата визита"
    parameter_name = "day"
    RANGES = {
        "today": ("сегодня", 0, 0),
        "tomorrow": ("завтра", 1, 1),
        "yesterday": ("вчера", -1, -1),
        "next7": ("ближайшие 7 дней", 0, 6),
        "last7": ("прошедшие 7 дней", -7, -1),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _lo, _hi) in self.RANGES.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if not value:
            return queryset
        if value in self.RANGES:
            _label, lo, hi = self.RANGES[value]
            days = lambda today: (today + timedelta(days=lo), today + timedelta(days=hi))  # noqa: E731
        else:
            day = parse_plausible(value)
            if day is None:
                return queryset
            days = lambda today: (day, day)  # noqa: E731
        workshops = workshops_for_user(request.user).only("id", "timezone")
        return queryset.filter(local_days_q(workshops, days))
