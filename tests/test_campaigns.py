"""Campaigns: audiences, preview, the planner and batch jobs against the mock
gateway, quiet hours, pause/resume/cancel, reconciliation, and the cadre's
USSD flow. Jobs are called directly (both databases); the real-worker runs are
in ``test_campaign_workers.py``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from freezegun import freeze_time
from sqlalchemy import select, update

from app.db import db_session
from app.gateways import GatewayUnavailable
from app.gateways.mock_server import MockGateway, serve
from domain import campaigns, delivery
from domain.campaigns import Audience, CampaignError
from domain.sms import inbox
from domain.subscribers import get_or_create_subscriber, opt_out, set_home_area, set_topic
from models import Area, Campaign, CampaignStatus, OutboundSms, SmsStatus, Subscriber
from tests.factories import DEMO_CADRE, DEMO_PIN, create_completed_household, household, member
from tests.jobs import run_jobs
from workers import CAMPAIGNS, QUEUES, queue
from workers import campaigns as jobs

PRICE = "KES 0.80"
# A batch job's arguments: campaign, language, village, first and last row id.
Batch = tuple[int, str, int | None, int, int]


@pytest.fixture
def gateway(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[MockGateway]:
    """The mock Africa's Talking gateway, with the app pointed at it."""
    with serve(MockGateway()) as gw:
        monkeypatch.setitem(app.config, "AT_USERNAME", "sandbox")
        monkeypatch.setitem(app.config, "AT_API_KEY", "test-key")
        monkeypatch.setitem(app.config, "AT_SMS_BASE_URL", gw.base_url)
        monkeypatch.setitem(app.config, "SMS_RATE", 0)
        monkeypatch.setitem(app.config, "AT_SMS_TIMEOUT", 5)
        yield gw


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[Batch]:
    """Batch jobs the planner enqueues, recorded instead of run: the test runs them."""
    recorded: list[Batch] = []
    monkeypatch.setattr(
        jobs,
        "_enqueue_batch",
        lambda c, group, first, last, at: recorded.append((c, *group, first, last)),
    )
    return recorded


def _area(name: str) -> int:
    found = db_session().scalar(select(Area.id).where(Area.name == name))
    assert found is not None
    return found


def _people(n: int, village: str, *, language: str | None = None, start: int = 0) -> list[str]:
    """``n`` subscribers living in ``village``; returns their numbers."""
    db = db_session()
    area = _area(village)
    numbers = []
    for i in range(start, start + n):
        msisdn = f"+2547002{area:02d}{i:03d}"
        sid, _ = get_or_create_subscriber(db, msisdn)
        set_home_area(db, msisdn, area)
        if language:
            db.execute(update(Subscriber).where(Subscriber.id == sid).values(language=language))
        numbers.append(msisdn)
    db.commit()
    return numbers


def _campaign(**kwargs: Any) -> Campaign:
    args: dict[str, Any] = {
        "name": "Test",
        "messages": {"en": "Meeting in {village} on {day}.", "sw": "Mkutano {village} {day}."},
        "audience": Audience(),
        "variables": {"day": "2026-12-05"},
        "quiet_hours": None,
    }
    args.update(kwargs)
    campaign = campaigns.create_campaign(db_session(), **args)
    db_session().commit()
    return campaign


def _send(campaign: Campaign) -> None:
    db = db_session()
    campaigns.schedule(db, campaign, campaigns.preview(db, campaign, PRICE))
    db.commit()


def _sent_texts(gateway: MockGateway) -> dict[str, str]:
    """``{number: text}`` of what the gateway was asked to send."""
    return {
        number: r["form"]["message"]
        for r in gateway.requests
        for number in r["form"].get("to", "").split(",")
    }


def _planned(numbers: list[str], **kwargs: Any) -> tuple[Campaign, list[str]]:
    """A campaign to everyone (``kwargs`` as for ``_campaign``), scheduled and
    planned: its batch jobs are waiting (recorded by ``batches``). Returns it
    and ``numbers``, the subscribers made for it."""
    c = _campaign(**kwargs)
    _send(c)
    jobs.plan_campaign(c.id)
    return c, numbers


def _rows(campaign_id: int) -> list[OutboundSms]:
    db = db_session()
    db.expire_all()
    return list(
        db.scalars(
            select(OutboundSms)
            .where(OutboundSms.campaign_id == campaign_id)
            .order_by(OutboundSms.id)
        )
    )


# -- audiences ---------------------------------------------------------------------------


def test_audience_combines_area_language_topic_and_household_rule(app: Flask) -> None:
    with app.app_context():
        db = db_session()
        ahero = _people(3, "Ahero")
        kombewa_sw = _people(2, "Kombewa", language="sw")
        _people(2, "Shinyalu")
        opted = _people(1, "Ahero", start=50)[0]
        opt_out(db, opted, "sms")
        sid, _ = get_or_create_subscriber(db, ahero[0])
        set_topic(db, sid, "health", True)
        db.commit()

        def numbers(audience: Audience) -> set[str]:
            c = campaigns.create_campaign(
                db, name="a", messages={"en": "x"}, audience=audience, save=False
            )
            return {row.msisdn for row in db.execute(campaigns.recipients(db, c))}

        kisumu = _area("Kisumu")
        assert numbers(Audience(areas=(kisumu,))) == set(ahero + kombewa_sw)
        assert numbers(Audience(areas=(_area("Nyanza"),))) == set(ahero + kombewa_sw)
        assert numbers(Audience(areas=(kisumu,), languages=("sw",))) == set(kombewa_sw)
        assert numbers(Audience(languages=("en",), areas=(kisumu,))) == set(ahero)
        assert numbers(Audience(topics=("health",))) == {ahero[0]}

        # A household head surveyed without safe water, and one with it.
        create_completed_household(
            db, head_phone=ahero[1], water_treated="no", water_source="surface", water_minutes=45
        )
        create_completed_household(db, head_phone=ahero[2])
        rule = {"field": "water_ok", "is": False}
        assert numbers(Audience(areas=(kisumu,), rule=rule)) == {ahero[1]}
        poor = {"all": [{"field": "mpi_poor", "is": True}]}
        assert numbers(Audience(rule=poor)) == set()


def test_a_surveyed_head_becomes_a_subscriber_of_their_village(app: Flask) -> None:
    with app.app_context():
        db = db_session()
        done = create_completed_household(db, head_phone="+254711000222")
        sub = db.scalars(select(Subscriber).where(Subscriber.msisdn == "+254711000222")).one()
        area = db.scalar(select(Area.name).where(Area.id == sub.area_id))
        assert area == "Ahero" and done.household_id > 0
        assert sub.language is None and sub.opted_out is False


def test_a_text_that_names_the_village_skips_subscribers_with_none(app: Flask) -> None:
    with app.app_context():
        db = db_session()
        placed = _people(2, "Ahero")
        get_or_create_subscriber(db, "+254711000600")  # dialled in, village unknown
        db.commit()
        named = _campaign(messages={"en": "Meeting in {village}."}, variables={})
        plain = _campaign(messages={"en": "Meeting at the chief's office."}, variables={})
        assert {r.msisdn for r in db.execute(campaigns.recipients(db, named))} == set(placed)
        assert len(db.execute(campaigns.recipients(db, plain)).all()) == 3


def test_create_refuses_what_cannot_be_sent(app: Flask) -> None:
    with app.app_context():
        db = db_session()
        base: dict[str, Any] = {"name": "x", "messages": {"en": "hi"}, "audience": Audience()}
        cases: list[tuple[dict[str, Any], str]] = [
            ({"messages": {"sw": "habari"}}, "no text in the default language"),
            ({"messages": {"en": "hi {name}"}}, "name"),
            ({"messages": {"en": "  "}}, "empty"),
            ({"messages": {"en": "hi", "xx": "?"}}, "unsupported language"),
            ({"name": ""}, "name of 1-120"),
            ({"spread_hours": 100}, "spread"),
            ({"quiet_hours": "8pm-7am"}, "quiet hours"),
            ({"quiet_hours": "20:00-20:00"}, "same time"),
            ({"audience": Audience(areas=(99999,))}, "no area with id 99999"),
            ({"audience": Audience(topics=("football",))}, "unknown topic"),
            ({"audience": Audience(rule={"field": "nope", "is": True})}, "unknown field"),
            ({"name": "a\x00b"}, "control characters"),
            ({"messages": {"en": "hi\x07"}}, "control characters"),
            ({"send_at_local": datetime(2020, 1, 1, 9, 0)}, "has passed"),
            ({"send_at_local": datetime(1, 1, 1, 0, 0)}, "no such send time|has passed"),
        ]
        for change, message in cases:
            with pytest.raises(CampaignError, match=message):
                campaigns.create_campaign(db, **{**base, **change})
        db.rollback()


def test_an_audience_across_time_zones_is_refused(app: Flask) -> None:
    with app.app_context():
        db = db_session()
        shinyalu = _area("Shinyalu")
        db.execute(update(Area).where(Area.id == shinyalu).values(timezone="Africa/Kampala"))
        try:
            with pytest.raises(CampaignError, match="several time zones"):
                campaigns.create_campaign(db, name="x", messages={"en": "hi"}, audience=Audience())
            one = campaigns.create_campaign(
                db, name="x", messages={"en": "hi"}, audience=Audience(areas=(shinyalu,))
            )
            assert one.timezone == "Africa/Kampala"
        finally:
            db.rollback()


def test_local_send_time_is_read_in_the_areas_time_zone(app: Flask) -> None:
    with app.app_context():
        c = _campaign(send_at_local=datetime(2030, 12, 1, 9, 0))
        assert c.timezone == "Africa/Nairobi"
        assert c.send_at == datetime(2030, 12, 1, 6, 0, tzinfo=UTC)  # EAT is UTC+3


# -- preview -------------------------------------------------------------------------------


def test_preview_counts_recipients_parts_and_cost_per_language(app: Flask) -> None:
    with app.app_context():
        _people(3, "Ahero")
        _people(2, "Kombewa", language="sw")
        _people(1, "Kombewa", language="zh", start=10)
        long_en = "Ngazi: " + "a" * 150 + " {village}"  # 2 parts in Ahero
        c = _campaign(messages={"en": long_en, "sw": "Habari {village}"}, variables={})
        p = campaigns.preview(db_session(), c, PRICE)
        by = {lp.language: lp for lp in p.languages}
        assert [lp.language for lp in p.languages] == ["en", "sw", "zh"]
        assert (by["en"].recipients, by["en"].parts, by["en"].sms) == (3, 2, 6)
        assert (by["sw"].recipients, by["sw"].parts, by["sw"].sample) == (2, 1, "Habari Kombewa")
        assert by["zh"].template_language == "en" and by["zh"].sms == 2
        assert (p.recipients, p.sms, p.cost, p.currency) == (6, 10, Decimal("8.00"), "KES")


def test_preview_warns_when_one_character_multiplies_the_parts(app: Flask) -> None:
    with app.app_context():
        _people(2, "Ahero")
        text = "Ngazi: the chief’s office opens at 9. " + "Bring your ID card. " * 3
        c = _campaign(messages={"en": text}, variables={})
        (lp,) = campaigns.preview(db_session(), c, PRICE).languages
        assert (lp.encoding, lp.parts) == ("UCS-2", 2)
        assert lp.warning is not None and "U+2019" in lp.warning
        assert lp.lookalike == text.replace("’", "'")


# -- quiet hours ---------------------------------------------------------------------------


def test_quiet_hours_span_midnight_in_local_time(app: Flask) -> None:
    with app.app_context():
        c = _campaign(quiet_hours="20:00-07:00")
        at = datetime(2026, 12, 1, 17, 30, tzinfo=UTC)  # 20:30 in Nairobi
        assert campaigns.quiet_until(c, at) == datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
        at = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # 05:00 in Nairobi
        assert campaigns.quiet_until(c, at) == datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
        assert campaigns.quiet_until(c, datetime(2026, 12, 2, 4, 0, tzinfo=UTC)) is None
        assert campaigns.quiet_until(c, datetime(2026, 12, 2, 16, 59, tzinfo=UTC)) is None
        day = _campaign(quiet_hours="12:00-14:00")
        assert campaigns.quiet_until(day, datetime(2026, 12, 2, 9, 30, tzinfo=UTC)) == datetime(
            2026, 12, 2, 11, 0, tzinfo=UTC
        )


def test_a_batch_in_quiet_hours_waits_for_their_end(
    app: Flask, gateway: MockGateway, batches: list[Batch], monkeypatch: Any
) -> None:
    deferred: list[datetime | None] = []
    with app.app_context(), freeze_time("2026-12-01 18:00:00"):  # 21:00 in Nairobi
        _people(2, "Ahero")
        c = _campaign(quiet_hours="20:00-07:00")
        _send(c)
        jobs.plan_campaign(c.id)
        monkeypatch.setattr(jobs, "_enqueue_batch", lambda c, g, f, last, at: deferred.append(at))
        result = jobs.send_batch(*batches[0])
        assert result == {"deferred": 1}
        assert deferred == [datetime(2026, 12, 2, 4, 0, tzinfo=UTC)]
        assert {r.status for r in _rows(c.id)} == {SmsStatus.QUEUED}
        assert gateway.request_count == 0


def test_quiet_hours_hold_a_campaign_until_the_tick_after_they_end(
    app: Flask, gateway: MockGateway
) -> None:
    """No stubs: in the embedded default the deferred batch is not re-run at once
    (it would find quiet hours again, forever); the tick sends it when due."""
    with app.app_context():
        with freeze_time("2026-12-01 18:00:00"):  # 21:00 in Nairobi
            numbers = _people(2, "Ahero")
            c = _campaign(quiet_hours="20:00-07:00")
            _send(c)
            jobs.plan_campaign(c.id)
            assert {r.status for r in _rows(c.id)} == {SmsStatus.QUEUED}
            assert gateway.request_count == 0
        with freeze_time("2026-12-02 05:00:00"):  # 08:00: the tick finds it stalled
            assert jobs.tick()["requeued"] == 2
            for queued in queue(CAMPAIGNS).jobs:  # with Redis: run what the tick enqueued
                jobs.send_batch(*queued.args)
        assert {r.status for r in _rows(c.id)} == {SmsStatus.SENT}
        assert [gateway.accepted(n) for n in numbers] == [1, 1]


# -- planning and sending ---------------------------------------------------------------


def test_campaign_reaches_everyone_once_in_their_language(
    app: Flask, gateway: MockGateway, batches: list[Batch], monkeypatch: Any
) -> None:
    monkeypatch.setitem(app.config, "SMS_BATCH_SIZE", 3)
    with app.app_context():
        en = _people(4, "Ahero")
        sw = _people(3, "Kombewa", language="sw")
        zh = _people(1, "Kombewa", language="zh", start=10)
        c = _campaign(
            messages={
                "en": "Meeting in {village} on {day}.",
                "sw": "Mkutano {village} {day}.",
                "zh": "{village}会议：{day}",
            }
        )
        _send(c)
        assert jobs.plan_campaign(c.id) == 8
        assert jobs.plan_campaign(c.id) == 0  # planned: a second run adds nobody
        ahero, kombewa = _area("Ahero"), _area("Kombewa")
        # A batch per 3 recipients who get the same text (language, village).
        assert sorted((b[1], b[2], b[4] - b[3] >= 0) for b in batches) == sorted(
            [("en", ahero, True), ("en", ahero, True), ("sw", kombewa, True), ("zh", kombewa, True)]
        )
        for batch in list(batches):
            jobs.send_batch(*batch)
        for batch in list(batches):  # a repeated job finds nothing left to claim
            assert jobs.send_batch(*batch) == {}
        rows = {r.msisdn: r for r in _rows(c.id)}
        assert set(rows) == set(en + sw + zh)
        assert {r.status for r in rows.values()} == {SmsStatus.SENT}
        sent = _sent_texts(gateway)
        assert sent[en[0]] == "Meeting in Ahero on Dec 5, 2026."
        assert sent[sw[0]] == "Mkutano Kombewa 5 Des 2026."
        assert sent[zh[0]] == "Kombewa会议：2026年12月5日"
        assert gateway.request_count == 4  # one bulk request per batch
        # The rows keep no text: the simulator's inbox renders it from the campaign.
        assert rows[zh[0]].body is None
        assert [text for _, text in inbox(db_session(), zh[0])] == ["Kombewa会议：2026年12月5日"]
        assert all(r.gateway_message_id and r.cost == "KES 0.8000" for r in rows.values())
        assert all(r.attempts == 1 and r.parts == 1 for r in rows.values())
        assert gateway.accepted_count == 8 and gateway.duplicates == 0
        db_session().refresh(c)
        assert c.status is CampaignStatus.DONE and c.planned == 8


def test_a_number_that_opts_out_after_planning_is_skipped(
    app: Flask, gateway: MockGateway, batches: list[Batch]
) -> None:
    with app.app_context():
        c, numbers = _planned(_people(3, "Ahero"))
        opt_out(db_session(), numbers[1], "sms")
        db_session().commit()
        assert jobs.send_batch(*batches[0]) == {"skipped": 1, "sent": 2}
        rows = {r.msisdn: r for r in _rows(c.id)}
        assert rows[numbers[1]].status is SmsStatus.SKIPPED
        assert rows[numbers[1]].failure_reason == "opted out"
        assert gateway.accepted_count == 2


def test_gateway_codes_blacklist_and_insufficient_balance(
    app: Flask, gateway: MockGateway, batches: list[Batch], monkeypatch: Any
) -> None:
    monkeypatch.setitem(app.config, "OPERATOR_MSISDN", "+254700000999")
    with app.app_context():
        db = db_session()
        numbers = _people(4, "Ahero")
        gateway.codes = {numbers[0]: 406, numbers[1]: 405, numbers[2]: 403}
        c = _campaign()
        _send(c)
        jobs.plan_campaign(c.id)
        counts = jobs.send_batch(*batches[0])
        assert counts == {"rejected": 2, "sent": 1, "retry": 1}
        rows = {r.msisdn: r for r in _rows(c.id)}
        assert rows[numbers[0]].status is SmsStatus.REJECTED
        assert rows[numbers[0]].failure_reason == "UserInBlacklist"
        assert rows[numbers[1]].status is SmsStatus.QUEUED  # waits for the top-up
        assert rows[numbers[2]].status is SmsStatus.REJECTED
        assert rows[numbers[3]].status is SmsStatus.SENT
        blacklisted = db.scalars(select(Subscriber).where(Subscriber.msisdn == numbers[0])).one()
        assert (blacklisted.opted_out, blacklisted.opt_out_source) == (True, "blacklist")
        db.refresh(c)
        assert c.status is CampaignStatus.PAUSED
        assert c.status_reason is not None and "insufficient balance" in c.status_reason
        alert = db.scalars(select(OutboundSms).where(OutboundSms.msisdn == "+254700000999")).one()
        assert alert.body is not None and f"campaign {c.id} paused" in alert.body

        # Topped up: resume sends the rest, and only the rest.
        gateway.codes = {}
        assert campaigns.resume(db, c)
        db.commit()
        batches.clear()
        jobs.resume_work(db, c)
        assert len(batches) == 1
        jobs.send_batch(*batches[0])
        rows = {r.msisdn: r for r in _rows(c.id)}
        assert rows[numbers[1]].status is SmsStatus.SENT and rows[numbers[1]].attempts == 2
        assert gateway.accepted(numbers[1]) == 1 and gateway.accepted(numbers[3]) == 1
        assert gateway.accepted(numbers[0]) == 0 and gateway.duplicates == 0
        db.refresh(c)
        assert c.status is CampaignStatus.DONE


def test_gateway_failure_releases_the_claims_for_a_retry(
    app: Flask, gateway: MockGateway, batches: list[Batch]
) -> None:
    with app.app_context():
        c, _ = _planned(_people(3, "Ahero"))
        gateway.http_status = 500
        with pytest.raises(GatewayUnavailable):
            jobs.send_batch(*batches[0])
        assert {(r.status, r.attempts) for r in _rows(c.id)} == {(SmsStatus.QUEUED, 1)}
        gateway.http_status = 201
        jobs.send_batch(*batches[0])
        assert {(r.status, r.attempts) for r in _rows(c.id)} == {(SmsStatus.SENT, 2)}


def test_a_timeout_after_the_request_went_out_sends_nobody_twice(
    app: Flask,
    client: Any,
    gateway: MockGateway,
    batches: list[Batch],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The gateway took the messages but its answer came too late: the claims are
    kept (not released for the retry), and the delivery reports settle them."""
    monkeypatch.setitem(app.config, "AT_SMS_TIMEOUT", 0.3)
    with app.app_context():
        c, numbers = _planned(_people(2, "Ahero"))
        cid = c.id
        gateway.latency = 0.6
        with pytest.raises(GatewayUnavailable) as failed:
            jobs.send_batch(*batches[0])
        assert failed.value.maybe_sent
        gateway.latency = 0.0
        assert jobs.send_batch(*batches[0]) == {}  # RQ's retry: nothing to claim
        assert {r.status for r in _rows(c.id)} == {SmsStatus.SENDING}
        deadline = time.monotonic() + 5
        while gateway.accepted_count < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # the mock finishes the request the worker gave up on
    # With a scheduler (Redis) a report for so young a claim waits until its
    # worker could have answered, then applies; without, it applies at once.
    waits = bool(app.config["REDIS_URL"])
    for i, number in enumerate(numbers):
        report = {"id": f"ATXid_late{i}", "status": "Success", "phoneNumber": number}
        answer = client.post("/sms/delivery", data=report).get_data(as_text=True)
        assert answer == ("later" if waits else "updated")

    if waits:  # the tick applies the waiting reports once due
        with app.app_context(), freeze_time(datetime.now(UTC) + timedelta(minutes=1)):
            assert jobs.tick()["reports"] == 2
    with app.app_context():
        assert {(r.status, r.attempts) for r in _rows(cid)} == {(SmsStatus.DELIVERED, 1)}
        assert [gateway.accepted(n) for n in numbers] == [1, 1]


def test_a_stop_during_the_throttle_wait_is_honoured(
    app: Flask, gateway: MockGateway, batches: list[Batch], monkeypatch: pytest.MonkeyPatch
) -> None:
    with app.app_context():
        c, numbers = _planned(_people(3, "Ahero"))

        def stop_arrives(messages: int) -> float:  # while the batch waits its turn
            opt_out(db_session(), numbers[0], "sms")
            db_session().commit()
            return 1.0

        monkeypatch.setattr(jobs, "throttle", stop_arrives)
        assert jobs.send_batch(*batches[0]) == {"skipped": 1, "sent": 2}
        assert gateway.accepted(numbers[0]) == 0


def test_per_recipient_gateway_errors_retry_only_those(
    app: Flask, gateway: MockGateway, batches: list[Batch]
) -> None:
    with app.app_context():
        numbers = _people(3, "Ahero")
        gateway.codes = {numbers[2]: 500}
        c = _campaign()
        _send(c)
        jobs.plan_campaign(c.id)
        with pytest.raises(jobs.RetryLater, match="1 recipients"):
            jobs.send_batch(*batches[0])
        gateway.codes = {}
        assert jobs.send_batch(*batches[0]) == {"sent": 1}
        assert gateway.accepted_count == 3 and gateway.duplicates == 0


def test_cancel_skips_what_is_not_sent(
    app: Flask, gateway: MockGateway, batches: list[Batch]
) -> None:
    with app.app_context():
        db = db_session()
        c, _ = _planned(_people(3, "Ahero"))
        assert campaigns.cancel(db, c) == 3
        db.commit()
        assert jobs.send_batch(*batches[0]) == {}
        assert {r.status for r in _rows(c.id)} == {SmsStatus.SKIPPED}
        assert gateway.request_count == 0
        with pytest.raises(CampaignError, match="cancelled"):
            campaigns.cancel(db, c)


def test_pause_stops_planning_and_sending(
    app: Flask, gateway: MockGateway, batches: list[Batch]
) -> None:
    with app.app_context():
        db = db_session()
        c, _ = _planned(_people(2, "Ahero"))
        assert campaigns.pause(db, c, "operator")
        db.commit()
        assert jobs.send_batch(*batches[0]) == {}
        assert not campaigns.pause(db, c, "again")
        assert gateway.request_count == 0


def test_the_tick_puts_back_claims_that_never_got_an_answer(
    app: Flask, gateway: MockGateway, batches: list[Batch], monkeypatch: Any
) -> None:
    monkeypatch.setitem(app.config, "CAMPAIGN_CLAIM_TIMEOUT", 60)
    monkeypatch.setitem(app.config, "CAMPAIGN_STALL_SECONDS", 60)
    with app.app_context():
        db = db_session()
        c, numbers = _planned(_people(3, "Ahero"))
        # A worker claimed the batch and died before the gateway answered.
        claimed_at = datetime.now(UTC) - timedelta(minutes=5)
        db.execute(
            update(OutboundSms)
            .where(OutboundSms.campaign_id == c.id)
            .values(status=SmsStatus.SENDING, claimed_at=claimed_at, attempts=1)
        )
        db.execute(update(Campaign).where(Campaign.id == c.id).values(progress_at=claimed_at))
        # ... and the gateway had taken one of them: its report resolves that claim.
        db.execute(
            update(OutboundSms)
            .where(OutboundSms.campaign_id == c.id, OutboundSms.msisdn == numbers[0])
            .values(status=SmsStatus.DELIVERED, gateway_message_id="ATXid_reported")
        )
        db.commit()
        batches.clear()
        done = jobs.tick()
        assert done["reconciled"] == 2 and done["requeued"] == 2
        for batch in list(batches):
            jobs.send_batch(*batch)
        rows = {r.msisdn: r for r in _rows(c.id)}
        assert rows[numbers[0]].status is SmsStatus.DELIVERED and rows[numbers[0]].attempts == 1
        assert {rows[n].status for n in numbers[1:]} == {SmsStatus.SENT}
        assert gateway.accepted_count == 2
        # The row the report finished is not in the batches' count of what is
        # left: the next tick, which asks the database, finishes the campaign.
        assert jobs.tick()["finished"] == 1
        db.refresh(c)
        assert c.status is CampaignStatus.DONE


def test_a_late_report_is_waited_for_and_a_lost_claim_comes_back_once_reports_pass_it(
    app: Flask, gateway: MockGateway, batches: list[Batch], monkeypatch: Any
) -> None:
    """Two workers died with claims out: the gateway had taken A's message, not
    B's. Reports run minutes behind (longer than the claim timeout), so age
    alone cannot tell them apart; the reports' progress does."""
    monkeypatch.setitem(app.config, "CAMPAIGN_CLAIM_TIMEOUT", 60)
    monkeypatch.setitem(app.config, "CAMPAIGN_STALL_SECONDS", 3600)
    monkeypatch.setitem(app.config, "AT_SMS_TIMEOUT", 10)  # slack: 10 + 30 s
    with app.app_context():
        db = db_session()
        c, (a, b, early, later) = _planned(_people(4, "Ahero"))
        now = datetime.now(UTC)
        claimed_at = now - timedelta(minutes=10)

        def _set(msisdn: str, **values: Any) -> None:
            db.execute(
                update(OutboundSms)
                .where(OutboundSms.campaign_id == c.id, OutboundSms.msisdn == msisdn)
                .values(**values)
            )
            db.commit()

        for msisdn in (a, b):
            _set(msisdn, status=SmsStatus.SENDING, claimed_at=claimed_at, attempts=1)
        # Another batch went out 20 s after the claims; its report just came in.
        sent = {"status": SmsStatus.SENT, "claimed_at": claimed_at, "attempts": 1}
        _set(
            early,
            **sent,
            gateway_message_id="ATXid_early",
            sent_at=claimed_at + timedelta(seconds=20),
        )
        _set(later, **sent, gateway_message_id="ATXid_later", sent_at=now - timedelta(minutes=2))
        report = delivery.apply_report(db, delivery.Report("ATXid_early", "Success", early))
        db.commit()
        assert report == "updated"
        batches.clear()
        assert jobs.tick().get("reconciled", 0) == 0  # reports are not past the claims yet
        # A's report arrives, minutes late: it settles A's claim.
        assert delivery.apply_report(db, delivery.Report("ATXid_a", "Success", a)) == "updated"
        db.commit()
        # The report of a message sent 8 minutes after the claims: B's would be in.
        assert (
            delivery.apply_report(db, delivery.Report("ATXid_later", "Success", later)) == "updated"
        )
        db.commit()
        assert jobs.tick()["reconciled"] == 1
        rows = {r.msisdn: r for r in _rows(c.id)}
        assert rows[a].status is SmsStatus.DELIVERED and rows[a].gateway_message_id == "ATXid_a"
        assert rows[a].sent_at == claimed_at  # when it went out, near enough: its claim
        assert rows[b].status is SmsStatus.QUEUED and rows[b].claimed_at is None
        assert all(rows[n].reported_at is not None for n in (a, early, later))
        assert rows[b].reported_at is None


def test_claims_wait_while_reports_come_for_other_messages_and_not_yet_for_theirs(
    app: Flask, gateway: MockGateway, batches: list[Batch], monkeypatch: Any
) -> None:
    """Another campaign's backlog of reports holds this one's up: none of its
    reports has come, but reports are coming. Its lost claim waits."""
    monkeypatch.setitem(app.config, "CAMPAIGN_CLAIM_TIMEOUT", 60)
    monkeypatch.setitem(app.config, "CAMPAIGN_STALL_SECONDS", 3600)
    with app.app_context():
        db = db_session()
        c, (lost, answered) = _planned(_people(2, "Ahero"))
        claimed_at = datetime.now(UTC) - timedelta(minutes=10)
        db.execute(
            update(OutboundSms)
            .where(OutboundSms.campaign_id == c.id, OutboundSms.msisdn == lost)
            .values(status=SmsStatus.SENDING, claimed_at=claimed_at, attempts=1)
        )
        db.execute(  # answered, its report not in yet
            update(OutboundSms)
            .where(OutboundSms.campaign_id == c.id, OutboundSms.msisdn == answered)
            .values(
                status=SmsStatus.SENT,
                gateway_message_id="ATXid_9",
                claimed_at=claimed_at,
                sent_at=claimed_at,
                attempts=1,
            )
        )
        db.commit()
        batches.clear()
        jobs._noted[0] = 0.0
        jobs.note_report(datetime.now(UTC))  # a report for some other message
        assert jobs.tick().get("reconciled", 0) == 0
        # Reports stop everywhere for the timeout: the claim's age decides.
        redis = app.extensions["ngazi_redis"]
        redis.set(jobs.REPORTS_SEEN_KEY, (datetime.now(UTC) - timedelta(minutes=5)).timestamp())
        assert jobs.tick()["reconciled"] == 1


def test_claims_come_back_on_age_alone_when_no_report_has_come_for_the_timeout(
    app: Flask, gateway: MockGateway, batches: list[Batch], monkeypatch: Any
) -> None:
    monkeypatch.setitem(app.config, "CAMPAIGN_CLAIM_TIMEOUT", 60)
    monkeypatch.setitem(app.config, "CAMPAIGN_STALL_SECONDS", 3600)
    with app.app_context():
        db = db_session()
        c, (lost, reported) = _planned(_people(2, "Ahero"))
        now = datetime.now(UTC)
        claimed_at = now - timedelta(minutes=10)
        db.execute(
            update(OutboundSms)
            .where(OutboundSms.campaign_id == c.id, OutboundSms.msisdn == lost)
            .values(status=SmsStatus.SENDING, claimed_at=claimed_at, attempts=1)
        )
        # The last report came 2 minutes ago, for a message sent with the claim:
        # reports have stopped (or the gateway has no callback set), not fallen behind.
        db.execute(
            update(OutboundSms)
            .where(OutboundSms.campaign_id == c.id, OutboundSms.msisdn == reported)
            .values(
                status=SmsStatus.DELIVERED,
                gateway_message_id="ATXid_1",
                claimed_at=claimed_at,
                sent_at=claimed_at,
                reported_at=now - timedelta(minutes=2),
                attempts=1,
            )
        )
        db.commit()
        batches.clear()
        assert jobs.tick()["reconciled"] == 1
        rows = {r.msisdn: r for r in _rows(c.id)}
        assert rows[lost].status is SmsStatus.QUEUED


def test_the_tick_starts_due_campaigns_and_restarts_a_dead_planner(
    app: Flask, gateway: MockGateway, monkeypatch: Any
) -> None:
    started: list[int] = []
    monkeypatch.setattr(jobs, "start", lambda db, c, now=None: started.append(c.id))
    planned: list[int] = []
    monkeypatch.setattr(jobs, "_enqueue_plan", lambda campaign_id: planned.append(campaign_id))
    with app.app_context():
        db = db_session()
        _people(1, "Ahero")
        later = _campaign(send_at_local=datetime(2030, 1, 1, 9, 0))
        due = _campaign()
        _send(later)
        _send(due)
        # A planner that died half-way: sending, not done planning.
        halfway = _campaign()
        _send(halfway)
        halfway.status = CampaignStatus.SENDING
        halfway.progress_at = datetime.now(UTC) - timedelta(minutes=10)
        db.commit()
        done = jobs.tick()
        assert started == [due.id]
        assert planned == [halfway.id] and done["replanned"] == 1


def test_throttle_holds_to_the_rate(app: Flask, monkeypatch: Any) -> None:
    monkeypatch.setitem(app.config, "SMS_RATE", 20)
    with app.app_context():
        assert jobs.throttle(20) == 0.0
        assert jobs.throttle(20) > 0.0  # the window is full: waited for the next one
        monkeypatch.setitem(app.config, "SMS_RATE", 0)
        assert jobs.throttle(10_000) == 0.0


def test_spread_campaign_schedules_its_batches_over_the_hours(
    app: Flask, gateway: MockGateway, monkeypatch: Any
) -> None:
    monkeypatch.setitem(app.config, "SMS_BATCH_SIZE", 2)
    scheduled: list[datetime | None] = []
    monkeypatch.setattr(jobs, "_enqueue_batch", lambda c, g, f, last, at: scheduled.append(at))
    with app.app_context(), freeze_time("2026-12-01 06:00:00"):
        _people(6, "Ahero")
        c = _campaign(spread_hours=3)
        _send(c)
        jobs.plan_campaign(c.id)
        start = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
        assert scheduled == [start, start + timedelta(hours=1), start + timedelta(hours=2)]
        rows = _rows(c.id)
        assert [r.not_before for r in rows] == [s for s in scheduled for _ in range(2)]


# -- the cadre's USSD flow ---------------------------------------------------------------


def test_cadre_sends_an_approved_message_to_a_village(
    app: Flask, dial: Any, gateway: MockGateway, batches: list[Batch]
) -> None:
    with app.app_context():
        db = db_session()
        for i in range(3):  # households in Ahero, two without safe water
            unsafe = {"water_source": "surface", "water_minutes": 45} if i < 2 else {}
            create_completed_household(db, head_phone=f"+25471100030{i}", key=f"k{i}", **unsafe)
    hops = ["1", "8", DEMO_PIN, "5"]  # English, Staff, PIN, Send SMS
    screen = ""
    for n in range(len(hops) + 1):
        screen = dial("cadre-sms", "*".join(hops[:n]), msisdn=DEMO_CADRE).get_data(as_text=True)
    assert screen.startswith("CON Which message?")
    assert "1 Cash transfer" in screen and "2 Safe water advice" in screen
    screen = dial("cadre-sms", "1*8*2468*5*2", msisdn=DEMO_CADRE).get_data(as_text=True)
    assert "To which village?" in screen and "1 Ahero" in screen and "2 Kombewa" in screen
    screen = dial("cadre-sms", "1*8*2468*5*2*1", msisdn=DEMO_CADRE).get_data(as_text=True)
    assert "Ahero: households 2, SMS each 1, cost about KES 1.60." in screen
    assert "1 Send" in screen
    for _ in range(2):  # the gateway repeats the callback: one campaign
        screen = dial("cadre-sms", "1*8*2468*5*2*1*1", msisdn=DEMO_CADRE).get_data(as_text=True)
        assert screen.startswith("END") and "Sending. Households: 2. Campaign" in screen
    run_jobs(app)
    with app.app_context():
        db = db_session()
        (c,) = db.scalars(select(Campaign)).all()
        assert (c.created_via, c.status, c.cadre_id is not None) == (
            "ussd",
            CampaignStatus.SENDING,
            True,
        )
        assert c.audience["rule"] == {"field": "water_ok", "is": False}
        # A cadre's campaign keeps the default quiet hours: send it at noon in Nairobi.
        assert (c.quiet_start, c.quiet_end) == ("20:00", "07:00")
        with freeze_time("2026-12-01 09:00:00"):
            for batch in list(batches):
                jobs.send_batch(*batch)
        rows = _rows(c.id)
        assert sorted(r.msisdn for r in rows) == ["+254711000300", "+254711000301"]
        texts = set(_sent_texts(gateway).values())
        assert len(texts) == 1 and "drinking water in Ahero" in texts.pop()


def test_racing_copies_of_the_send_make_one_campaign_and_the_same_answer(
    app: Flask, dial: Any, gateway: MockGateway, batches: list[Batch]
) -> None:
    """The gateway repeats the last callback while the first is still running:
    threads, each with its own client and database session."""
    with app.app_context():
        create_completed_household(
            db_session(), head_phone="+254711000700", water_source="surface", water_minutes=45
        )
    inputs = ["1", "8", DEMO_PIN, "5", "2", "1"]
    for n in range(len(inputs) + 1):
        dial("race", "*".join(inputs[:n]), msisdn=DEMO_CADRE)
    n = 6
    barrier = threading.Barrier(n)
    answers: list[str] = []

    def send() -> None:
        client = app.test_client()
        form = {
            "sessionId": "race",
            "serviceCode": "*384*1234#",
            "phoneNumber": DEMO_CADRE,
            "networkCode": "63902",
            "text": "*".join([*inputs, "1"]),
        }
        barrier.wait()
        answers.append(client.post("/ussd", data=form).get_data(as_text=True))

    threads = [threading.Thread(target=send) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    with app.app_context():
        (c,) = db_session().scalars(select(Campaign)).all()
    assert len(answers) == n
    assert {a.split("\n")[-1] for a in answers} == {f"Sending. Households: 1. Campaign {c.id}."}


def test_the_same_message_to_the_same_village_twice_in_a_day_is_refused(
    app: Flask, dial: Any, gateway: MockGateway, batches: list[Batch]
) -> None:
    with app.app_context():
        create_completed_household(
            db_session(), head_phone="+254711000500", water_source="surface", water_minutes=45
        )
    screens = []
    for session in ("first", "again"):
        inputs = ["1", "8", DEMO_PIN, "5", "2", "1"] if session == "first" else ["8", DEMO_PIN]
        inputs += ["5", "2", "1"] if session == "again" else []
        for n in range(len(inputs) + 1):
            screen = dial(session, "*".join(inputs[:n]), msisdn=DEMO_CADRE).get_data(as_text=True)
        screens.append(screen)
        if session == "first":
            assert "1 Send" in screen
            dial(session, "*".join([*inputs, "1"]), msisdn=DEMO_CADRE)
    with app.app_context():
        (c,) = db_session().scalars(select(Campaign)).all()
    assert f"Sent to Ahero today already (campaign {c.id})." in screens[1]
    assert "1 Send" not in screens[1]


def test_cadre_sees_when_nobody_in_the_village_fits(app: Flask, dial: Any) -> None:
    with app.app_context():
        create_completed_household(db_session(), head_phone="+254711000400")  # safe water
    inputs = ["1", "8", DEMO_PIN, "5", "2", "1"]
    for n in range(len(inputs) + 1):
        screen = dial("cadre-none", "*".join(inputs[:n]), msisdn=DEMO_CADRE).get_data(as_text=True)
    assert "No household in Ahero fits this message." in screen
    assert "1 Send" not in screen
    screen = dial("cadre-none", "1*8*2468*5*2*1*1", msisdn=DEMO_CADRE).get_data(as_text=True)
    assert "No household in Ahero fits this message." in screen  # 1 is not an option here


def test_unused_factories_stay_importable() -> None:
    assert household(member(30))["members"] == 1


def test_worker_maintenance_puts_the_tick_back_after_redis_lost_it(app: Flask) -> None:
    """The tick's chain lives in Redis: a worker's periodic maintenance schedules
    it again when it is gone (with Redis; without, there is no chain to keep)."""
    from workers import NgaziWorker

    redis = app.extensions["ngazi_redis"]
    with app.app_context():
        worker = NgaziWorker(list(QUEUES), connection=redis)
        worker.run_maintenance_tasks()
        scheduled = queue("default").scheduled_job_registry.get_job_ids()
        if app.config["REDIS_URL"]:
            assert redis.exists(jobs.TICK_LOCK) and len(scheduled) == 1
            worker.run_maintenance_tasks()  # while the chain lives, nothing more
            assert queue("default").scheduled_job_registry.get_job_ids() == scheduled
        else:
            assert not redis.exists(jobs.TICK_LOCK) and scheduled == []


@pytest.mark.real_services
def test_a_worker_starts_its_scheduler_again_soon_after_it_died(app: Flask) -> None:
    """A Redis restart or failover kills RQ's scheduler process; left to RQ it
    would start again at the next 10-minute maintenance, holding back retries,
    delayed batches and the tick. The worker's maintenance runs 30 s after."""
    from datetime import timedelta as td

    from rq.scheduler import RQScheduler
    from rq.utils import now as rq_now

    from workers import SCHEDULER_RESTART_SECONDS, NgaziWorker

    redis = app.extensions["ngazi_redis"]
    with app.app_context():
        worker = NgaziWorker(list(QUEUES), connection=redis)
        worker.scheduler = RQScheduler(list(QUEUES), connection=redis)
        worker.run_maintenance_tasks()  # the first: RQ leaves the scheduler to work()
        worker.scheduler.acquire_locks(auto_start=True)
        first = worker.scheduler._process
        assert first is not None and first.is_alive()
        try:
            assert not worker.should_run_maintenance_tasks  # alive: every 10 minutes
            first.kill()
            first.join(timeout=10)
            assert not worker.should_run_maintenance_tasks  # not sooner than 30 s
            worker.last_cleaned_at = rq_now() - td(seconds=SCHEDULER_RESTART_SECONDS + 1)
            assert worker.should_run_maintenance_tasks
            worker.run_maintenance_tasks()
            again = worker.scheduler._process
            assert again is not None and again is not first and again.is_alive()
            assert not worker.should_run_maintenance_tasks
        finally:
            process = worker.scheduler._process
            if process is not None and process.is_alive():
                process.kill()
                process.join(timeout=10)
            worker.scheduler.release_locks()
