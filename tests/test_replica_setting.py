"""``DATABASE_REPLICA_URL`` checked at start, and a replica that cannot be reached
(here: nothing listens on its port) leaving the pages on the primary. The
replica itself, streaming, is in ``tests/test_read_replica.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app import create_app
from tests.test_console_auth import PASSWORD, login, make_user


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("garbage", "not a database URL"),
        ("sqlite:///{tmp}/replica.db", "a replica must be a PostgreSQL URL"),
        ("mysql://user@127.0.0.1/ngazi", "a replica must be a PostgreSQL URL"),
    ],
)
def test_a_replica_url_that_cannot_be_a_replica_is_refused_at_start(
    base_config: dict[str, Any], tmp_path: Path, url: str, message: str
) -> None:
    with pytest.raises(ValueError, match=f"DATABASE_REPLICA_URL: {message}"):
        create_app({**base_config, "DATABASE_REPLICA_URL": url.format(tmp=tmp_path)})
    assert not (tmp_path / "replica.db").exists()  # nothing created, nothing written


def test_an_unreachable_replica_leaves_the_pages_on_the_primary(
    app: Flask, base_config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    replica_app = create_app(
        {**base_config, "DATABASE_REPLICA_URL": "postgresql+psycopg://postgres@127.0.0.1:1/x"}
    )
    make_user(app, "otieno", name="Otieno Ouma")
    client = replica_app.test_client()
    assert login(client, "otieno", PASSWORD).status_code == 302
    with caplog.at_level("WARNING", logger="app.db"):
        for page in ("/console/households?q=otieno", "/console/analytics"):
            assert client.get(page).status_code == 200
    warned = [r for r in caplog.records if "replica not used" in r.message]
    assert len(warned) == 1  # then the primary for 30 s, without asking again
