"""Replay recorded gateway transcripts: every hop's status and answer, exactly.

The transcripts (``fixtures/ussd-transcripts.jsonl``) start from the sample
traffic in ``fixtures/ussd-dials-shared.jsonl`` and add back and home at every
depth, every language, long lists, retries and invalid input. Re-record with
``python -m tests.record_transcripts`` after a deliberate change, and read the diff.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from menus.screen import Limits, size
from tests.conftest import FIXTURES

TRANSCRIPTS = [
    json.loads(line) for line in (FIXTURES / "ussd-transcripts.jsonl").open(encoding="utf-8")
]


def test_transcripts_cover_the_shared_sample_traffic() -> None:
    shared = [
        json.loads(line)["name"]
        for line in (FIXTURES / "ussd-dials-shared.jsonl").open(encoding="utf-8")
    ]
    names = {t["name"] for t in TRANSCRIPTS}
    assert {f"shared: {n}" for n in shared} <= names
    assert len(TRANSCRIPTS) >= 30


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=[t["name"] for t in TRANSCRIPTS])
def test_replay(client: FlaskClient, transcript: dict[str, Any]) -> None:
    for i, hop in enumerate(transcript["hops"]):
        resp = client.post("/ussd", data=hop["form"])
        body = resp.get_data(as_text=True)
        assert (resp.status_code, body) == (hop["status"], hop["body"]), f"hop {i + 1}"
        if resp.status_code == 200:
            assert body.startswith(("CON ", "END "))
            assert size(body).fits(Limits()), f"hop {i + 1} does not fit a screen"
