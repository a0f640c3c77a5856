"""Gateway callbacks need the token (and, when set, a source address in
WEBHOOK_ALLOW_CIDRS, read through trusted proxies only); refusals are 403 and
counted; the simulator is off unless asked for."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app, metrics
from app.config import DEV_WEBHOOK_TOKEN, from_env
from app.webhook_auth import client_address, parse_networks
from tests.conftest import WEBHOOK_TOKEN

USSD = {
    "sessionId": "ATUid_auth",
    "serviceCode": "*384*1234#",
    "phoneNumber": "+254700000101",
    "text": "",
}
INBOUND = {
    "from": "+254700000101",
    "to": "20880",
    "text": "HELP",
    "id": "auth-1",
    "date": "2026-11-29",
}
REPORT = {"id": "ATXid_x", "status": "Success", "phoneNumber": "+254700000101"}
OPTOUT = {"senderId": "NGAZI", "phoneNumber": "+254700000101"}
CALLBACKS = [
    ("/ussd", USSD),
    ("/sms/inbound", INBOUND),
    ("/sms/delivery", REPORT),
    ("/sms/optout", OPTOUT),
]


def bare(app: Flask) -> FlaskClient:
    """A client that adds no token (the tests' usual client does)."""
    return FlaskClient(app, app.response_class, use_cookies=False)


def refused(endpoint: str, reason: str) -> float:
    return metrics.REFUSED.labels(endpoint, reason)._value.get()


@pytest.mark.parametrize(("path", "form"), CALLBACKS)
@pytest.mark.parametrize(
    "token", [None, "", "wrong", WEBHOOK_TOKEN + "x", WEBHOOK_TOKEN[:-1], "ü" * 3]
)
def test_a_callback_without_the_token_is_refused_and_counted(
    app: Flask, path: str, form: dict[str, str], token: str | None
) -> None:
    before = refused(path, "token")
    query = {} if token is None else {"token": token}
    resp = bare(app).post(path, data=form, query_string=query)
    assert (resp.status_code, resp.get_data(as_text=True)) == (403, "Forbidden")
    assert refused(path, "token") == before + 1


@pytest.mark.parametrize(("path", "form"), CALLBACKS)
def test_with_the_token_each_callback_is_served(
    app: Flask, path: str, form: dict[str, str]
) -> None:
    resp = bare(app).post(path, data=form, query_string={"token": WEBHOOK_TOKEN})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_data(as_text=True) != "Forbidden"


def test_a_refused_callback_does_nothing(app: Flask) -> None:
    from sqlalchemy import func, select

    from app.db import db_session
    from models import InboundSms

    bare(app).post("/sms/inbound", data=INBOUND)
    with app.app_context():
        assert db_session().scalar(select(func.count()).select_from(InboundSms)) == 0


def with_settings(base_config: dict[str, Any], **settings: Any) -> Flask:
    return create_app({**base_config, **settings})


def test_the_source_allowlist_through_trusted_proxies_only(base_config: dict[str, Any]) -> None:
    app = with_settings(
        base_config,
        WEBHOOK_ALLOW_CIDRS="196.201.214.0/24, 2001:db8::/32",
        TRUSTED_PROXIES="10.0.0.0/8",
    )
    client = bare(app)

    def post(peer: str, forwarded: str | None = None) -> int:
        headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
        return client.post(
            "/ussd",
            data=USSD,
            query_string={"token": WEBHOOK_TOKEN},
            headers=headers,
            environ_base={"REMOTE_ADDR": peer},
        ).status_code

    assert post("196.201.214.7") == 200  # the gateway itself
    assert post("2001:db8::5") == 200
    assert post("::ffff:196.201.214.7") == 200  # an IPv4-mapped peer is the IPv4 address
    assert post("203.0.113.9") == 403  # anyone else
    before = refused("/ussd", "source")
    assert post("10.1.2.3", "196.201.214.7") == 200  # via our proxy
    assert post("10.1.2.3", "203.0.113.9, 196.201.214.7") == 200  # rightmost untrusted hop
    assert post("10.1.2.3", "196.201.214.7, 203.0.113.9") == 403  # the client wrote the first
    assert post("203.0.113.9", "196.201.214.7") == 403  # X-Forwarded-For from a non-proxy
    assert post("10.1.2.3", "not-an-address") == 403
    assert post("10.1.2.3", "10.9.9.9") == 403  # only proxies: the leftmost is the client
    assert refused("/ussd", "source") == before + 4


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("1.2.3.4", None, "1.2.3.4"),
        ("1.2.3.4", "5.6.7.8", "1.2.3.4"),  # not a proxy: its header is ignored
        ("10.0.0.1", "5.6.7.8", "5.6.7.8"),
        ("10.0.0.1", "5.6.7.8, 10.0.0.2", "5.6.7.8"),
        ("10.0.0.1", " , ", "10.0.0.1"),
        ("10.0.0.1", "", "10.0.0.1"),
        (None, None, ""),
    ],
)
def test_client_address(peer: str | None, forwarded: str | None, client: str) -> None:
    assert client_address(peer, forwarded, parse_networks("10.0.0.0/8", "T")) == client


def test_malformed_network_settings_stop_the_app(base_config: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="WEBHOOK_ALLOW_CIDRS: '10.0.0.300' is not"):
        with_settings(base_config, WEBHOOK_ALLOW_CIDRS="10.0.0.300")
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        with_settings(base_config, TRUSTED_PROXIES="proxy.local")
    with pytest.raises(ValueError, match="WEBHOOK_TOKEN is empty"):
        with_settings(base_config, WEBHOOK_TOKEN="")


def test_the_simulator_is_on_only_with_the_development_token(
    monkeypatch: pytest.MonkeyPatch, base_config: dict[str, Any]
) -> None:
    monkeypatch.delenv("WEBHOOK_TOKEN", raising=False)
    monkeypatch.delenv("SIMULATOR", raising=False)
    assert from_env()["WEBHOOK_TOKEN"] == DEV_WEBHOOK_TOKEN and from_env()["SIMULATOR"] is True
    monkeypatch.setenv("WEBHOOK_TOKEN", "a-real-secret")
    assert from_env()["SIMULATOR"] is False
    monkeypatch.setenv("SIMULATOR", "1")
    assert from_env()["SIMULATOR"] is True
    off = with_settings(base_config, SIMULATOR=False)
    assert bare(off).get("/simulator").status_code == 404
    assert bare(off).get("/simulator/inbox?msisdn=%2B254700000101").status_code == 404
    on = with_settings(base_config, SIMULATOR=True)
    page = bare(on).get("/simulator").get_data(as_text=True)
    assert f'data-ussd-url="/ussd?token={WEBHOOK_TOKEN}"' in page


def test_the_console_sees_the_client_behind_a_trusted_proxy(
    app: Flask, base_config: dict[str, Any]
) -> None:
    from sqlalchemy import select

    from app.db import db_session
    from models import AuditEvent
    from tests.test_console_auth import PASSWORD, login, make_user

    proxied = with_settings(base_config, TRUSTED_PROXIES="10.0.0.0/8")
    make_user(proxied)
    client = proxied.test_client()
    client.environ_base.update(REMOTE_ADDR="10.0.0.7", HTTP_X_FORWARDED_FOR="203.0.113.50")
    assert login(client, "achieng", PASSWORD).status_code == 302
    assert client.get("/console/analytics/export/villages.csv").status_code == 200
    with proxied.app_context():
        event = db_session().scalars(select(AuditEvent)).one()
        assert event.address == "203.0.113.50"  # the operator, not the proxy
