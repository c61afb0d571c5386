"""A branch's reminder hours and managers' addresses: parsed from what staff type, refused with a clear message."""

import pytest
from django.core.exceptions import ValidationError

from workshops.models import parse_email_list, parse_reminder_offsets


@pytest.mark.parametrize(("typed", "hours"), [("24, 2", [24, 2]), ("2;24", [24, 2]), ("48 3 3", [48, 3]), ("", [])])
def test_reminder_hours_are_read_largest_first(typed, hours):
    assert parse_reminder_offsets(typed) == hours


@pytest.mark.parametrize("typed", ["24, два", "0", "200", "-2"])
def test_reminder_hours_out_of_range_or_not_numbers_are_refused(typed):
    with pytest.raises(ValidationError, match="от 1 до 168"):
        parse_reminder_offsets(typed)


def test_managers_addresses_are_split_and_a_bad_one_is_named():
    assert parse_email_list("olga@sto.ru,\n desk@sto.ru; olga@sto.ru") == ["olga@sto.ru", "desk@sto.ru"]
    with pytest.raises(ValidationError, match="«olga@» — не адрес e-mail"):
        parse_email_list("olga@, desk@sto.ru")
