"""The importer tells a repeated header row from data by normalising its cells; a cheap first-letter
test skips most data rows first. It must never skip a cell that normalises to the header."""

import random

import pytest

from imports.columns import normalise_header
from imports.layout import _may_be

HEADERS = ["ФИО", "  *Телефон: ", "№", "", "Ёмкость", "İstanbul", "Σχόλια", "1С код", "гос. номер"]
ALPHABET = "ФфИиОоЁёЕеTtİi1№ *:\xa0\u2003Σσςab"


@pytest.mark.parametrize("header", HEADERS)
def test_no_cell_that_normalises_to_the_header_is_skipped(header):
    expected = normalise_header(header)
    rnd = random.Random(header)
    cells = [header, header.upper(), header.lower(), " " + header, "\u2003" + header, "*" + header]
    cells += ["".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(0, 6))) for _ in range(20_000)]
    assert [c for c in cells if normalise_header(c) == expected and not _may_be(c, expected)] == []


def test_a_name_is_told_from_the_header_by_its_first_letter():
    assert not _may_be("Иванов Иван", normalise_header("ФИО"))
    assert _may_be("Фёдоров Пётр", normalise_header("ФИО"))  # then normalised and compared in full
