import json
from pathlib import Path

import pytest

from tests.factories import BayFactory, WorkshopFactory

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "import-samples"
if not SAMPLES.is_dir():  # a worktree sits at /work/wt/<name>; the main checkout next to shared/
    SAMPLES = Path("/work/shared/import-samples")
SAMPLE_FILES = sorted(p.name for p in SAMPLES.glob("0*"))


@pytest.fixture(scope="session")
def expected():
    return json.loads((SAMPLES / "expected_outcomes.json").read_text(encoding="utf-8"))


@pytest.fixture
def branch(db):
    workshop = WorkshopFactory(name="СТО на Шевченко", slug="shevchenko")
    BayFactory(workshop=workshop, name="Пост 1")
    return workshop


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def sample_bytes(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()
