"""Files that cannot be imported get a clear Russian message, and nothing in the database is lost."""

import io
import zipfile

import pytest

from clients.models import Client, ClientPhone
from imports import limits
from imports.engine import run_import
from imports.errors import (
    CorruptFile,
    FileTooLarge,
    PasswordProtected,
    TooManyRows,
    UnsupportedFormat,
    WrongExtension,
    ZipBomb,
)
from tests.factories import ClientFactory
from tests.imports.conftest import sample_bytes


@pytest.fixture
def known(db):
    """A client staff entered before the import: must survive every refused file."""
    return ClientFactory(name="Иван Петров", phone="+79121234567")


def refused(data, filename, workshop):
    with pytest.raises(Exception) as info:
        run_import(data=data, filename=filename, workshop=workshop)
    return info


def assert_nothing_changed(known):
    assert list(Client.objects.values_list("id", "name")) == [(known.pk, "Иван Петров")]
    assert list(ClientPhone.objects.values_list("number", flat=True)) == ["+79121234567"]


def test_a_csv_named_xlsx_is_refused_saying_what_it_is(branch, known):
    info = refused("ФИО;Телефон\nАнна;89220001122\n".encode(), "clients.xlsx", branch)
    assert info.type is WrongExtension and "внутри CSV" in info.value.message
    assert_nothing_changed(known)


def test_an_xlsx_named_csv_is_refused(branch, known):
    info = refused(sample_bytes("01_1c_bp_kontragenty_vyvesti_spisok.xlsx"), "clients.csv", branch)
    assert info.type is WrongExtension and "Excel (XLSX)" in info.value.message
    assert_nothing_changed(known)


def test_a_password_protected_xlsx_is_refused(branch, known):
    # An encrypted OOXML file is an OLE2 container holding an «EncryptedPackage» stream.
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 1024
    info = refused(data, "clients.xlsx", branch)
    assert info.type is PasswordProtected and "паролем" in info.value.message
    assert_nothing_changed(known)


def test_a_corrupt_xlsx_is_refused(branch, known):
    data = sample_bytes("01_1c_bp_kontragenty_vyvesti_spisok.xlsx")[:3000]
    info = refused(data, "clients.xlsx", branch)
    assert info.type is CorruptFile and "повреждён" in info.value.message
    assert_nothing_changed(known)


def test_a_zip_bomb_is_refused_before_it_is_unpacked(branch, known):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (50 * 1024 * 1024))
    info = refused(buffer.getvalue(), "clients.xlsx", branch)
    assert info.type is ZipBomb and "zip-бомба" in info.value.message
    assert_nothing_changed(known)


def test_a_file_of_500000_rows_is_refused_asking_to_split_it(branch, known):
    rows = "\n".join(f"Клиент {i};8912{i % 10_000_000:07d}" for i in range(500_000))
    info = refused(("ФИО;Телефон\n" + rows).encode(), "big.csv", branch)
    assert info.type is TooManyRows and "Разбейте" in info.value.message
    assert_nothing_changed(known)


def test_a_file_over_the_size_limit_is_refused(branch, known, monkeypatch):
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 1024)
    info = refused(sample_bytes("05_crm_export_utf8_bom.csv"), "clients.csv", branch)
    assert info.type is FileTooLarge and "МБ" in info.value.message
    assert_nothing_changed(known)


def test_nul_bytes_are_refused(branch, known):
    info = refused("ФИО;Телефон\nАнна\x00;89220001122\n".encode(), "clients.csv", branch)
    assert info.type is CorruptFile and "нулевые байты" in info.value.message
    assert_nothing_changed(known)


def test_a_1c_mxl_file_is_answered_with_save_as_xlsx(branch, known):
    info = refused(b"MOXCEL\x00\x01\x02binary", "report.mxl", branch)
    assert info.type is UnsupportedFormat and "сохраните как XLSX" in info.value.message
    assert_nothing_changed(known)


def test_an_html_page_saved_as_xls_is_refused(branch, known):
    info = refused(b"<html><body><table><tr><td>x</td></tr></table></body></html>", "clients.xls", branch)
    assert info.type is UnsupportedFormat and "HTML" in info.value.message
    assert_nothing_changed(known)


def test_an_xml_bomb_is_refused(branch, known):
    data = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "bbbbbbbb">]><a>&b;</a>'
    info = refused(data, "clients.xml", branch)
    assert info.type is UnsupportedFormat and "DTD" in info.value.message
    assert_nothing_changed(known)


def test_an_unknown_xml_is_refused_listing_what_is_supported(branch, known):
    info = refused(b"<?xml version='1.0'?><catalog/>", "clients.xml", branch)
    assert info.type is UnsupportedFormat and "CommerceML" in info.value.message
    assert_nothing_changed(known)
