"""Per-number limits: past USSD_MSISDN_LIMIT a number gets a polite END while
others are served; past SMS_MSISDN_LIMIT its messages are kept, not acted on."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app import abuse, create_app, metrics
from app.db import db_session
from models import InboundSms, InboundStatus, OutboundSms
from tests.jobs import run_jobs

CODE = "*384*1234#"


def limited_app(base_config: dict[str, Any], **settings: str) -> Flask:
    app = create_app({**base_config, **settings})
    app.extensions["ngazi_redis"].flushdb()
    return app


def hop(app: Flask, msisdn: str, session: str) -> str:
    form = {"sessionId": session, "serviceCode": CODE, "phoneNumber": msisdn, "text": ""}
    resp = app.test_client().post("/ussd", data=form)
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def limited_hops() -> float:
    return metrics.USSD_HOPS.labels("limited")._value.get()


def test_a_flooding_number_gets_a_polite_end_and_others_go_on(
    app: Flask, base_config: dict[str, Any]
) -> None:
    limited = limited_app(base_config, USSD_MSISDN_LIMIT="3 per minute")
    before = limited_hops()
    answers = [hop(limited, "+254700000555", f"flood-{i}") for i in range(5)]
    assert all(a.startswith("CON ") for a in answers[:3])
    polite = "END Too many requests from your number. Please wait a minute and dial again."
    assert answers[3:] == [polite] * 2
    assert hop(limited, "+254700000556", "other").startswith("CON ")  # not starved
    assert limited_hops() == before + 2


def test_the_window_passes(app: Flask, base_config: dict[str, Any]) -> None:
    # Windows are Redis keys that expire (fixed windows): real seconds pass here.
    limited = limited_app(base_config, USSD_MSISDN_LIMIT="2 per 1 second")
    answers = [hop(limited, "+254700000562", f"w{i}") for i in range(3)]
    assert [a.startswith("CON ") for a in answers] == [True, True, False]
    time.sleep(1.2)
    assert hop(limited, "+254700000562", "w-later").startswith("CON ")


def test_the_limit_message_is_in_the_default_language(
    app: Flask, base_config: dict[str, Any]
) -> None:
    limited = limited_app(base_config, USSD_MSISDN_LIMIT="1 per minute", DEFAULT_LANGUAGE="sw")
    hop(limited, "+254700000557", "a")
    answer = hop(limited, "+254700000557", "b")
    assert answer.startswith("END ") and "Too many" not in answer


def test_every_part_of_a_limit_holds(app: Flask, base_config: dict[str, Any]) -> None:
    limited = limited_app(base_config, USSD_MSISDN_LIMIT="10 per minute;3 per hour")
    answers = [hop(limited, "+254700000558", f"h{i}") for i in range(4)]
    assert [a.startswith("CON ") for a in answers] == [True, True, True, False]


def sms(app: Flask, msisdn: str, gateway_id: str) -> None:
    form = {"from": msisdn, "to": "21234", "text": "HELP", "id": gateway_id, "date": "x"}
    assert app.test_client().post("/sms/inbound", data=form).status_code == 200


def test_sms_past_the_limit_are_kept_but_not_answered(
    app: Flask, base_config: dict[str, Any]
) -> None:
    limited = limited_app(base_config, SMS_MSISDN_LIMIT="2 per minute")
    for i in range(4):
        sms(limited, "+254700000559", f"flood-{i}")
    sms(limited, "+254700000560", "calm-0")
    sms(limited, "+254700000559", "flood-0")  # the gateway retrying: the same row
    run_jobs(limited)
    with limited.app_context():
        db = db_session()
        rows = db.scalars(select(InboundSms).order_by(InboundSms.id)).all()
        assert [(r.gateway_id, r.status) for r in rows] == [
            ("flood-0", InboundStatus.PROCESSED),
            ("flood-1", InboundStatus.PROCESSED),
            ("flood-2", InboundStatus.THROTTLED),
            ("flood-3", InboundStatus.THROTTLED),
            ("calm-0", InboundStatus.PROCESSED),
        ]
        assert [r.text for r in rows] == ["HELP"] * 5  # nothing lost
        replies = db.scalars(select(OutboundSms.msisdn).order_by(OutboundSms.id)).all()
        assert replies == ["+254700000559", "+254700000559", "+254700000560"]


@pytest.mark.parametrize("setting", ["USSD_MSISDN_LIMIT", "SMS_MSISDN_LIMIT"])
def test_a_malformed_limit_stops_the_app(base_config: dict[str, Any], setting: str) -> None:
    with pytest.raises(ValueError, match=f"{setting}: 'lots' is not a rate limit"):
        create_app({**base_config, setting: "lots"})


def test_without_redis_the_limit_is_not_applied(
    app: Flask, base_config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    limited = limited_app(base_config, USSD_MSISDN_LIMIT="1 per minute")

    class Broken:
        def hit(self, *args: Any) -> bool:
            raise ConnectionError("Redis is away")

    limited.extensions["ngazi_msisdn_limiter"] = Broken()
    with limited.app_context():
        assert abuse.allow("ussd", "+254700000561") and abuse.allow("ussd", "+254700000561")
    assert "per-number ussd limit unavailable" in caplog.text
