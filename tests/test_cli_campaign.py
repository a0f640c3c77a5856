"""``flask campaign …`` as an operator types it."""

from __future__ import annotations

import json

from flask import Flask
from sqlalchemy import select

from app.db import db_session
from domain.subscribers import get_or_create_subscriber, set_home_area, set_language
from models import Area, Campaign, CampaignStatus


def _people(app: Flask) -> None:
    with app.app_context():
        db = db_session()
        ahero = db.scalar(select(Area.id).where(Area.name == "Ahero"))
        assert ahero is not None
        for i, language in enumerate(["en", "en", "sw"]):
            msisdn = f"+25471180000{i}"
            sid, _ = get_or_create_subscriber(db, msisdn)
            set_home_area(db, msisdn, ahero)
            set_language(db, sid, language)
        db.commit()


def test_create_preview_send_show_list(app: Flask) -> None:
    _people(app)
    runner = app.test_cli_runner()
    made = runner.invoke(
        args=[
            "campaign",
            "create",
            "Water",
            "--text",
            "en=Boil water in {village} until {until}.",
            "--text",
            "sw=Chemsha maji {village} hadi {until}.",
            "--var",
            "until=2026-12-18",
            "--area",
            "Nyanza/Kisumu",
            "--quiet",
            "none",
        ]
    )
    assert made.exit_code == 0, made.output
    lines = made.output.splitlines()
    assert lines[0].endswith(": Water (draft, time zone Africa/Nairobi)")
    assert lines[1] == "recipients: 3  SMS parts: 3  estimated cost: KES 2.40"
    assert "  en: 2 recipients, 1 part each, GSM-7; 2 SMS" in lines
    assert "    Boil water in Ahero until Dec 18, 2026." in lines
    assert "  sw: 1 recipient, 1 part each, GSM-7; 1 SMS" in lines
    campaign_id = int(lines[0].split()[1].rstrip(":"))
    assert lines[-1] == f"send it with: flask campaign send {campaign_id}"

    sent = runner.invoke(args=["campaign", "send", str(campaign_id)])
    assert sent.exit_code == 0 and sent.output.endswith(f"campaign {campaign_id} scheduled now\n")
    again = runner.invoke(args=["campaign", "send", str(campaign_id)])
    assert again.exit_code == 1 and "not a draft" in again.output

    shown = json.loads(runner.invoke(args=["campaign", "show", str(campaign_id)]).output)
    assert shown["estimate"]["recipients"] == 3 and shown["timezone"] == "Africa/Nairobi"
    if not app.config["REDIS_URL"]:  # inline: planned and sent already (the local outbox)
        assert shown["status"] == "done" and shown["funnel"]["sent"] == 3
    listed = runner.invoke(args=["campaign", "list"]).output.splitlines()
    assert listed[0] == "id\tstatus\tplanned\tname"
    assert listed[1].startswith(f"{campaign_id}\t") and listed[1].endswith("\tWater")


def test_pause_resume_cancel_say_what_they_did(app: Flask) -> None:
    _people(app)
    runner = app.test_cli_runner()
    made = runner.invoke(args=["campaign", "create", "Later", "--text", "en=Hi", "--quiet", "none"])
    campaign_id = made.output.split()[1].rstrip(":")
    assert runner.invoke(args=["campaign", "pause", campaign_id]).exit_code == 1  # a draft
    cancelled = runner.invoke(args=["campaign", "cancel", campaign_id])
    assert cancelled.output == f"campaign {campaign_id} cancelled; 0 messages not sent\n"
    with app.app_context():
        status = db_session().scalar(select(Campaign.status).where(Campaign.id == int(campaign_id)))
    assert status is CampaignStatus.CANCELLED
    assert "is cancelled" in runner.invoke(args=["campaign", "cancel", campaign_id]).output


def test_bad_options_are_clear_errors_not_tracebacks(app: Flask) -> None:
    runner = app.test_cli_runner()
    base = ["campaign", "create", "X", "--text", "en=Hi"]
    cases = [
        (["--rule", "{not json"], "not JSON"),
        (["--rule", '{"not": ' * 2000 + "1" + "}" * 2000], "nested too deep"),
        (["--rule", '{"field": "fies_score", ">=": NaN}'], "not a number"),
        (["--at", "2020-01-01 09:00"], "has passed"),
        (["--at", "tomorrow"], "YYYY-MM-DD HH:MM"),
        (["--area", "Atlantis"], "no area 'Atlantis'"),
        (["--area", "Coast/Kisumu"], "no area 'Coast/Kisumu'"),
        (["--quiet", "8pm-7am"], "quiet hours"),
        (["--var", "novalue"], "is not KEY=VALUE"),
    ]
    for extra, message in cases:
        result = runner.invoke(args=[*base, *extra])
        handled = result.exception is None or isinstance(result.exception, SystemExit)
        assert result.exit_code in (1, 2) and handled, (extra, result.output, result.exception)
        assert message in result.output, (extra, result.output)
    huge = runner.invoke(args=["campaign", "show", "99999999999999999999"])
    assert huge.exit_code == 2 and "not in the range" in huge.output
    assert (
        runner.invoke(args=["campaign", "show", "424242"]).output == "Error: no campaign 424242\n"
    )


def test_demo_subscribers_give_campaigns_an_audience(app: Flask) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo", "subscribers", "40"]).output == (
        "demo subscribers: 40 new, 40 in all\n"
    )
    assert runner.invoke(args=["demo", "subscribers", "40"]).output == (
        "demo subscribers: 0 new, 40 in all\n"
    )
    made = runner.invoke(args=["campaign", "create", "Hi", "--text", "en=Hello {village}"])
    assert made.output.splitlines()[1].startswith("recipients: 40  ")
    assert runner.invoke(args=["demo", "subscribers", "0"]).exit_code == 2
