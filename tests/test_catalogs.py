"""Every message the code marks is in every catalog, translated and not fuzzy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from domain.translation import LANGUAGES, LOCALES_DIR, catalog

ROOT = Path(__file__).resolve().parent.parent


def _ids(path: Path) -> set[str]:
    with path.open("rb") as f:
        return {m.id for m in read_po(f) if m.id}  # type: ignore[misc]


def test_template_is_up_to_date_with_the_code(tmp_path: Path) -> None:
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "pybabel"),
            "-q",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "N_",
            "--no-location",
            "-o",
            str(fresh),
            "app",
            "menus",
            "domain",
            "workers",
        ],
        cwd=ROOT,
        check=True,
    )
    assert _ids(fresh) == _ids(LOCALES_DIR / "messages.pot"), "run `make translations`"


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_catalog_is_complete_and_not_fuzzy(language: str) -> None:
    path = LOCALES_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        cat = read_po(f, locale=language)
    wanted = _ids(LOCALES_DIR / "messages.pot")
    messages = {m.id: m for m in cat if m.id}
    assert wanted - set(messages) == set(), "missing from the catalog"
    assert [m.id for m in messages.values() if not m.string] == [], "untranslated"
    assert [m.id for m in messages.values() if m.fuzzy] == [], "fuzzy"
    assert [m.id for m in cat.obsolete.values()] == [], "obsolete entries left behind"


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_compiled_catalog_translates(language: str) -> None:
    assert catalog(language).gettext("Back") != "Back"
