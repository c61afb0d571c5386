"""Limits that keep one import from exhausting the server (memory, time, disk)."""

MAX_FILE_BYTES = 60 * 1024 * 1024
"""An upload larger than this is refused before it is read."""

MAX_ROWS = 200_000
"""More rows than this: split the file (the benchmark's 100,000 rows fit twice over)."""

MAX_UNZIPPED_BYTES = 400 * 1024 * 1024
"""XLSX is a zip: the sum of its parts unpacked may not exceed this."""

MAX_ZIP_RATIO = 200
"""An XLSX part that unpacks more than this many times its packed size is a zip bomb."""

HEADER_SEARCH_ROWS = 30
"""The header row is looked for among this many first rows (1C puts titles and filters above it)."""

HEADER_ROW_MAX = 1_000
"""The highest header row staff may name by hand: no table starts below a title this long."""

PREVIEW_PROBLEM_ROWS = 500
"""The preview and the stored summary keep this many problem rows; the rejected-rows XLSX has all."""

ASYNC_ROWS = 2_000
"""Files with more data rows than this are imported by a Celery task after confirmation."""
