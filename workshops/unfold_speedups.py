"""Speed-ups for django-unfold's changelist (0.91), measured in ``benchmarks/bench_admin.py``.

Unfold builds the column headers once per *row* (``items_for_result`` calls
``result_headers`` for every row, rendering the «select all» checkbox widget each time)
and renders the row checkbox through the template engine. On a 50-row bookings page
that is most of the server time. Here the headers are built once per page (they depend
on the changelist only) and the row checkbox is rendered once per language and reused.
"""

from functools import lru_cache

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from unfold.admin import ModelAdmin as UnfoldModelAdmin
from unfold.admin import checkbox
from unfold.templatetags import unfold_list

_result_headers = unfold_list.result_headers
_PK = "__pk__"


def result_headers_once(cl):
    """Unfold's ``result_headers``, computed on the first call for a changelist and reused."""
    headers = cl.__dict__.get("_unfold_result_headers")
    if headers is None:
        headers = cl._unfold_result_headers = list(_result_headers(cl))
    return iter(headers)


def install() -> None:
    """Route unfold's per-row header lookups to the per-page cache (idempotent)."""
    unfold_list.result_headers = result_headers_once


@lru_cache(maxsize=8)
def _checkbox_html(language: str | None) -> str:
    return checkbox.render("_selected_action", _PK)


class FastActionCheckboxMixin:
    """The row checkbox as a string substitution instead of a widget render per row."""

    def action_checkbox(self, obj) -> SafeString:
        return mark_safe(_checkbox_html(get_language()).replace(_PK, escape(str(obj.pk))))

    action_checkbox.short_description = UnfoldModelAdmin.action_checkbox.short_description
