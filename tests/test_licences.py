"""Every pinned runtime dependency has a licence compatible with MIT."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, distribution, metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = re.compile(r"MIT|BSD|Apache|ISC|PSF|Python Software Foundation|LGPL", re.I)


def _pins() -> list[str]:
    names = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.append(re.split(r"[\[=<>]", line)[0])
    return names


@pytest.mark.parametrize("name", _pins())
def test_licence_is_mit_compatible(name: str) -> None:
    try:
        meta = metadata(name)
    except PackageNotFoundError:
        pytest.fail(f"{name} is pinned but not installed")
    texts = [meta.get("License-Expression") or "", meta.get("License") or ""]
    texts += [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    found = " ".join(t for t in texts if t) or _licence_file_kind(name)
    assert ALLOWED.search(found), f"{name}: {found[:200]!r}"
    assert not re.search(r"\bGPL(?!.*Lesser)|AGPL", found.replace("LGPL", "")), f"{name}: {found}"


# The opening words of the licence texts, for a package whose metadata names no
# licence but ships the text (pyxform ships the BSD 2-clause licence that way).
_LICENCE_TEXTS = {
    "Redistribution and use in source and binary forms": "BSD",
    "Permission is hereby granted, free of charge": "MIT",
}


def _licence_file_kind(name: str) -> str:
    for file in distribution(name).files or []:
        if "licen" in file.name.lower() or "copying" in file.name.lower():
            text = " ".join(file.read_text().split())
            for opening, kind in _LICENCE_TEXTS.items():
                if opening in text:
                    return kind
    return ""
