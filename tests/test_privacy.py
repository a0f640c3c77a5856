"""Personal data: ``flask privacy export|erase|purge`` (domain.privacy,
domain.retention) and masked logs (app.log_masking)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from freezegun import freeze_time
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from app.db import db_session
from app.log_masking import MaskingFilter, mask_text
from domain import job_applications, jobs, market, pins, prices, privacy
from domain.market import set_shares_contact
from domain.subscribers import get_or_create_subscriber, set_topic
from models import (
    Area,
    AreaStatistic,
    AuditEvent,
    ContactRequest,
    Household,
    HouseholdSurvey,
    InboundSms,
    JobApplication,
    OfferStatus,
    OutboundSms,
    PriceAlert,
    ProduceOffer,
    SmsStatus,
    Subscriber,
    Subscription,
    SurveyDraft,
    WaitingReport,
)
from models.base import utcnow
from tests.factories import DEMO_CADRE, DEMO_PIN, create_completed_household, produce_offer
from tests.jobs import run_jobs
from tests.test_console_auth import login, make_user

PERSON = "+254711000101"  # the subject: villager, seller, buyer, job seeker, household head
OTHER = "+254722000202"  # another farmer, whose data must survive the erasure
BUYER = "+254733000303"  # asks for the subject's number
PERSON_PIN = "8642"


def _area(db: Any, name: str) -> int:
    found = db.scalar(select(Area.id).where(Area.name == name))
    assert found is not None
    return int(found)


def _seed(app: Flask, client: FlaskClient, dial: Any) -> dict[str, int]:
    """The subject in every table that can hold them, and another person beside."""
    # Over the gateway: an offer texted in (stored, processed, answered), a USSD
    # session left in Redis.
    for gateway_id, sender, text in (
        ("ATXid_p1", PERSON, "SELL maize 50kg 30 at Ahero"),
        ("ATXid_o1", OTHER, "SELL beans 20kg 90 at Ahero"),
    ):
        form = {"from": sender, "to": "21234", "id": gateway_id, "text": text, "linkId": ""}
        assert client.post("/sms/inbound", data=form).status_code == 200
    run_jobs(app)
    assert dial("s-person", "", msisdn=PERSON).status_code == 200
    with app.app_context():
        db = db_session()
        db.execute(delete(WaitingReport))  # the app fixture leaves them
        ahero = _area(db, "Ahero")
        made = create_completed_household(db, head_name="Akinyi Otieno", head_phone=PERSON)
        other_household = create_completed_household(db, head_name="Baraka", head_phone=OTHER)
        subscriber_id, _ = get_or_create_subscriber(db, PERSON)
        subscriber = db.get(Subscriber, subscriber_id)
        assert subscriber is not None
        pins.set_pin(subscriber, PERSON_PIN)
        set_topic(db, subscriber_id, "health", True)
        prices.subscribe(db, subscriber_id, "maize", None)
        set_shares_contact(db, PERSON, True)
        set_shares_contact(db, OTHER, True)
        db.commit()
        # The subject asks for the other farmer's number; a buyer asks for theirs.
        theirs = db.scalars(select(ProduceOffer).where(ProduceOffer.msisdn == OTHER)).one()
        mine = db.scalars(select(ProduceOffer).where(ProduceOffer.msisdn == PERSON)).one()
        for offer, buyer in ((theirs, PERSON), (mine, BUYER)):
            got = market.contact_seller(
                db,
                offer_id=offer.id,
                buyer_msisdn=buyer,
                buyer_language="en",
                now=utcnow(),
                daily_limit=10,
            )
            assert got.outcome == "sent"
        job = jobs.add_job(
            db,
            titles={"en": "Rice transplanting"},
            employer="Ahero Rice Growers",
            contact=DEMO_CADRE,
            area_id=ahero,
            wage="450",
            wage_period="day",
            currency="KES",
            slots=5,
            closes_on=utcnow().date() + timedelta(days=10),
            now=utcnow(),
        )
        db.commit()
        job_applications.apply(
            db,
            job,
            msisdn=PERSON,
            name="Akinyi Otieno",
            start="week",
            skills="Rice",
            language="en",
            now=utcnow(),
        )
        db.add(
            WaitingReport(
                message_id="ATXid_w",
                status="Success",
                msisdn=PERSON,
                apply_after=utcnow(),
                received_at=utcnow(),
            )
        )
        db.add(
            SurveyDraft(
                key="draft-person",
                cadre_id=1,
                survey_id=db.scalar(select(HouseholdSurvey.survey_id).limit(1)),
                household_id=None,
                answers={"head_name": "Akinyi", "head_phone": PERSON},
                position=["head_phone"],
                label="Akinyi",
            )
        )
        for action, detail in (
            ("household.view", {"surveys": 1, "msisdn": "full"}),
            ("household.search", {"words": f"akinyi {PERSON}", "rows": 1, "page": 1}),
        ):
            db.add(
                AuditEvent(
                    username="otieno",
                    action=action,
                    subject_type="household",
                    subject_id=str(made.household_id),
                    detail=detail,
                )
            )
        db.commit()
        # Sent, as the workers would (the domain queues, the menus enqueue).
        import workers.sms

        for row_id in db.scalars(select(OutboundSms.id).where(OutboundSms.status == "queued")):
            workers.sms.send_sms(row_id)
        # A queued (unsent) message to the subject: nothing is sent after an erasure.
        db.add(OutboundSms(msisdn=PERSON, body="queued", status=SmsStatus.QUEUED))
        db.commit()
        from domain import analytics

        analytics.refresh(db)
        return {
            "household": made.household_id,
            "other_household": other_household.household_id,
            "job": job.id,
            "my_offer": mine.id,
            "their_offer": theirs.id,
        }


def _export(app: Flask, msisdn: str) -> dict[str, Any]:
    result = app.test_cli_runner().invoke(args=["privacy", "export", msisdn])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _without_volatile(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "generated_at"}


# -- export ------------------------------------------------------------------------------


def test_export_holds_everything_about_the_number(
    app: Flask, client: FlaskClient, dial: Any, tmp_path: Path
) -> None:
    ids = _seed(app, client, dial)
    out = tmp_path / "person.json"
    result = app.test_cli_runner().invoke(args=["privacy", "export", "0711000101", "--out", out])
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o777 == 0o600
    doc = json.loads(out.read_text())

    assert doc["schema"] == "ngazi.privacy.export/1" and doc["msisdn"] == PERSON
    assert datetime.fromisoformat(doc["generated_at"]).tzinfo is not None
    assert sorted(doc) == sorted(
        [
            "schema", "generated_at", "msisdn", "subscriber", "cadre", "households",
            "inbound_sms", "outbound_sms", "sms_about_you", "produce_offers",
            "contact_requests", "job_applications", "jobs_as_contact", "waiting_reports",
            "survey_drafts", "audit_events", "ussd",
        ]
    )  # fmt: skip
    sub = doc["subscriber"]
    assert (sub["msisdn"], sub["shares_contact"], sub["opted_out"]) == (PERSON, True, False)
    assert sub["pin"] == {"set": True, "failures": 0, "locked_until": None}
    assert sub["subscriptions"] == ["health"]
    assert [(a["produce"], a["area_id"]) for a in sub["price_alerts"]] == [("maize", None)]
    assert doc["cadre"] is None
    [house] = doc["households"]
    assert (house["id"], house["head_name"], house["head_msisdn"]) == (
        ids["household"],
        "Akinyi Otieno",
        PERSON,
    )
    [survey] = house["surveys"]
    assert survey["answers"]["head_phone"] == PERSON and survey["round"] is not None
    assert survey["mpi_poor"] is False and survey["members"] == 3
    assert [(m["gateway_id"], m["text"]) for m in doc["inbound_sms"]] == [
        ("ATXid_p1", "SELL maize 50kg 30 at Ahero")
    ]
    bodies = [m["body"] for m in doc["outbound_sms"]]
    assert len(bodies) == 5  # offer reply, the seller's number, buyer's, receipt, queued
    assert OTHER in bodies[1] and BUYER in bodies[2] and bodies[-1] == "queued"
    about = [m["body"] for m in doc["sms_about_you"]]
    # The other seller told the buyer's number, the buyer the seller's; the employer.
    assert len(about) == 3
    assert all(PERSON in body for body in about)
    assert [(o["id"], o["produce"], o["status"]) for o in doc["produce_offers"]] == [
        (ids["my_offer"], "maize", "open")
    ]
    assert [c["offer_id"] for c in doc["contact_requests"]["asked"]] == [ids["their_offer"]]
    assert [c["offer_id"] for c in doc["contact_requests"]["received"]] == [ids["my_offer"]]
    assert BUYER not in json.dumps(doc["contact_requests"])
    assert [(a["job_id"], a["name"]) for a in doc["job_applications"]] == [
        (ids["job"], "Akinyi Otieno")
    ]
    assert doc["jobs_as_contact"] == []
    assert [w["message_id"] for w in doc["waiting_reports"]] == ["ATXid_w"]
    assert [d["key"] for d in doc["survey_drafts"]] == ["draft-person"]
    assert [e["action"] for e in doc["audit_events"]] == ["household.view", "household.search"]
    [session] = doc["ussd"]["sessions"]
    assert session["msisdn"] == PERSON and doc["ussd"]["caller_cache"] is not None
    text = out.read_text()
    assert "pin_hash" not in text and "argon2" not in text and PERSON_PIN not in text
    with app.app_context():
        [event] = db_session().scalars(
            select(AuditEvent).where(AuditEvent.action == "privacy.export")
        )
        assert (event.subject_id, event.username.startswith("cli:")) == ("+2547******01", True)
        assert event.detail["inbound_sms"] == 1


def test_export_of_a_cadre_has_the_pin_state_without_the_hash(app: Flask) -> None:
    doc = _export(app, DEMO_CADRE)
    assert doc["subscriber"] is None
    assert doc["cadre"]["pin"] == {"set": True, "failures": 0, "locked_until": None}
    assert doc["cadre"]["villages"] and "pin_hash" not in doc["cadre"]


def test_an_unreadable_number_exits_2(app: Flask) -> None:
    runner = app.test_cli_runner()
    for command in ("export", "erase"):
        result = runner.invoke(args=["privacy", command, "not-a-number", "--yes"][:3])
        assert result.exit_code == 2 and "not a phone number" in result.output


# -- erase -------------------------------------------------------------------------------


def _erase(app: Flask, msisdn: str = PERSON) -> dict[str, int]:
    result = app.test_cli_runner().invoke(args=["privacy", "erase", msisdn, "--yes"])
    assert result.exit_code == 0, result.output
    return {what: int(n) for what, n in (line.split("\t") for line in result.output.splitlines())}


def test_erase_deletes_or_deidentifies_exactly_what_the_docs_say(
    app: Flask, client: FlaskClient, dial: Any
) -> None:
    ids = _seed(app, client, dial)
    other_before = _without_volatile(_export(app, OTHER))
    with app.app_context():
        db = db_session()
        stats_before = {
            (s.area_id, s.households): s.refreshed_at for s in db.scalars(select(AreaStatistic))
        }
        outbound_statuses = dict(
            db.execute(select(OutboundSms.status, func.count()).group_by(OutboundSms.status)).all()
        )

    done = _erase(app)

    assert done == {
        "subscription deleted": 1,
        "price_alert deleted": 1,
        "subscriber deleted": 1,
        "survey_draft deleted": 1,
        "household de-identified": 1,
        "household_survey answers removed": 1,
        "job_application deleted": 1,
        "contact_request deleted": 1,
        "waiting_report deleted": 1,
        "produce_offer de-identified": 1,
        "inbound_sms deleted": 1,
        "outbound_sms deleted (unsent)": 1,
        "outbound_sms de-identified": 4,
        "outbound_sms text removed": 3,
        "audit_event details masked": 1,
        "ussd_session deleted": 2,  # the session and the caller cache
        "cadre kept": 0,
        "job kept (contact)": 0,
    }
    with app.app_context():
        db = db_session()
        national = "711000101"
        for model, column in (
            (Subscriber, Subscriber.msisdn),
            (InboundSms, InboundSms.msisdn),
            (OutboundSms, OutboundSms.msisdn),
            (ProduceOffer, ProduceOffer.msisdn),
            (ContactRequest, ContactRequest.buyer_msisdn),
            (JobApplication, JobApplication.msisdn),
            (WaitingReport, WaitingReport.msisdn),
            (Household, Household.head_msisdn),
        ):
            assert not db.scalar(select(func.count()).where(column == PERSON)), model
        assert not db.scalar(select(func.count()).where(OutboundSms.body.like(f"%{national}%")))
        assert not db.scalar(
            select(func.count()).where(OutboundSms.dedup_key.like(f"%{national}%"))
        )
        assert not db.scalar(select(func.count()).select_from(Subscription))  # only theirs
        assert not db.scalar(select(func.count()).select_from(PriceAlert))
        assert not db.scalar(select(func.count()).select_from(SurveyDraft))
        # Kept de-identified: the household's classification, for the statistics.
        house = db.get(Household, ids["household"])
        assert house is not None
        assert (house.head_name, house.head_msisdn) == (privacy.ERASED_NAME, None)
        [survey] = house.surveys
        assert survey.answers == {} and survey.members == 3 and survey.mpi_poor is False
        # Offers: closed, anonymous, still a price observation.
        offer = db.get(ProduceOffer, ids["my_offer"])
        assert offer is not None
        assert (offer.msisdn, offer.status, offer.location, offer.inbound_id) == (
            f"~{offer.id}",
            OfferStatus.EXPIRED,
            None,
            None,
        )
        # Buyers' requests on the subject's offer are the buyers' records.
        assert db.get(ContactRequest, (ids["my_offer"], BUYER)) is not None
        # Delivery counts are kept (less the unsent message).
        after = dict(
            db.execute(select(OutboundSms.status, func.count()).group_by(OutboundSms.status)).all()
        )
        outbound_statuses[SmsStatus.QUEUED] -= 1
        assert after == {k: v for k, v in outbound_statuses.items() if v}
        kept = db.scalars(select(OutboundSms).where(OutboundSms.msisdn.like("~%"))).all()
        assert all(r.msisdn == f"~{r.id}" and r.body is None for r in kept) and len(kept) == 4
        # The statistics were refreshed, and say the same.
        stats_after = {
            (s.area_id, s.households): s.refreshed_at for s in db.scalars(select(AreaStatistic))
        }
        assert stats_after.keys() == stats_before.keys()
        assert any(stats_after[k] > stats_before[k] for k in stats_after)
        # The audit trail: masked details, and one record of the erasure.
        search = db.scalars(select(AuditEvent).where(AuditEvent.action == "household.search")).one()
        assert search.detail["words"] == "akinyi +2547******01"
        [erased] = db.scalars(select(AuditEvent).where(AuditEvent.action == "privacy.erase"))
        assert (erased.subject_type, erased.subject_id) == ("msisdn", "+2547******01")
        assert erased.username.startswith("cli:") and erased.detail == done
        everything = json.dumps([e.detail for e in db.scalars(select(AuditEvent))])
        assert PERSON not in everything
    # Redis: no session, no cached caller.
    redis = app.extensions["ngazi_redis"]
    left = [redis.get(k) or b"" for k in redis.scan_iter(match="ngazi:ussd:*")]
    assert left and not [v for v in left if PERSON.encode() in v]
    assert redis.get(f"ngazi:ussd:caller:{PERSON}") is None
    # Nothing of the other person changed but the text that held the subject's number.
    other_after = _without_volatile(_export(app, OTHER))
    changed = [m for m in other_before["outbound_sms"] if m not in other_after["outbound_sms"]]
    assert len(changed) == 1 and PERSON in changed[0]["body"]
    other_before["outbound_sms"] = [m for m in other_before["outbound_sms"] if m not in changed]
    other_after["outbound_sms"] = [
        m for m in other_after["outbound_sms"] if m["id"] != changed[0]["id"]
    ]
    # And what was also the subject's: their copy of the other's number, their request.
    assert [PERSON not in m["body"] for m in other_before["sms_about_you"]] == [True]
    assert other_after["sms_about_you"] == []
    assert other_after["contact_requests"]["received"] == []
    for doc in (other_before, other_after):
        doc.pop("sms_about_you")
        doc["contact_requests"].pop("received")
    assert other_after == other_before
    # An empty export now, but for the de-identified rows it cannot name.
    doc = _export(app, PERSON)
    assert doc["subscriber"] is None and doc["households"] == [] and doc["inbound_sms"] == []
    assert (
        doc["outbound_sms"] == []
        and doc["sms_about_you"] == []
        and doc["ussd"]
        == {
            "sessions": [],
            "caller_cache": None,
        }
    )


def test_erase_is_idempotent_and_the_number_starts_afresh(
    app: Flask, client: FlaskClient, dial: Any
) -> None:
    _seed(app, client, dial)
    _erase(app)
    again = _erase(app)
    assert privacy.summary(again) == "nothing held"
    with app.app_context():
        events = (
            db_session()
            .scalars(select(AuditEvent).where(AuditEvent.action == "privacy.erase"))
            .all()
        )
        assert len(events) == 2
    # It dials again: asked for a language, as any new number.
    body = dial("s-new", "", msisdn=PERSON).get_data(as_text=True)
    assert body.startswith("CON ") and "English" in body
    with app.app_context():
        row = db_session().scalars(select(Subscriber).where(Subscriber.msisdn == PERSON)).one()
        assert (row.language, row.opted_out, row.pin_hash, row.shares_contact) == (
            None,
            False,
            None,
            None,
        )


def test_erase_asks_first_without_yes(app: Flask, client: FlaskClient, dial: Any) -> None:
    dial("s-x", "", msisdn=PERSON)
    result = app.test_cli_runner().invoke(args=["privacy", "erase", PERSON], input="n\n")
    assert result.exit_code == 1
    with app.app_context():
        assert db_session().scalar(select(Subscriber.id).where(Subscriber.msisdn == PERSON))


def test_erasing_a_cadre_keeps_the_account(app: Flask) -> None:
    done = _erase(app, DEMO_CADRE)
    assert done["cadre kept"] == 1
    doc = _export(app, DEMO_CADRE)
    assert doc["cadre"]["active"] is True


# -- retention ---------------------------------------------------------------------------


def test_purge_applies_the_retention_periods(app: Flask) -> None:
    start = datetime(2026, 1, 1, 9, tzinfo=UTC)
    app.config.update(RAW_SMS_RETENTION_DAYS=90, AUDIT_RETENTION_DAYS=365)
    with app.app_context():
        db = db_session()
        for day, gateway_id in ((0, "old"), (80, "young")):
            at = start + timedelta(days=day)
            db.execute(
                insert(InboundSms).values(
                    gateway_id=gateway_id,
                    msisdn=PERSON,
                    to="21234",
                    text="SELL maize",
                    status="processed",
                    received_at=at,
                )
            )
            db.add(
                OutboundSms(
                    msisdn=PERSON,
                    body=f"reply {gateway_id}",
                    created_at=at,
                    status=SmsStatus.DELIVERED,
                    dedup_key=f"contact:1:{PERSON}:{day}",
                )
            )
            db.add(OutboundSms(msisdn=OTHER, body="waiting", created_at=at))
            db.add(
                AuditEvent(
                    username="otieno",
                    action="household.view",
                    subject_type="household",
                    subject_id="1",
                    created_at=at - timedelta(days=300),
                )  # fmt: skip
            )
        db.commit()
        old_inbound = db.scalar(select(InboundSms.id).where(InboundSms.gateway_id == "old"))
        offer = produce_offer(db, OTHER, "Ahero", at=start)
        offer.inbound_id = old_inbound
        db.commit()
    runner = app.test_cli_runner()
    with freeze_time(start + timedelta(days=100)):
        first = runner.invoke(args=["privacy", "purge"])
        second = runner.invoke(args=["privacy", "purge"])
    assert first.output.splitlines() == [
        "inbound_sms deleted\t1",
        "outbound_sms text removed\t1",
        "audit_event deleted\t1",
    ]
    assert second.output.splitlines() == [
        "inbound_sms deleted\t0",
        "outbound_sms text removed\t0",
        "audit_event deleted\t0",
    ]
    with app.app_context():
        db = db_session()
        assert db.scalars(select(InboundSms.gateway_id)).all() == ["young"]
        rows = {
            r.body or r.dedup_key or "-": (r.status, r.msisdn)
            for r in db.scalars(select(OutboundSms).where(OutboundSms.msisdn == PERSON))
        }
        # The old reply: text and buyer key gone, delivery record kept.
        delivered = (SmsStatus.DELIVERED, PERSON)
        assert rows == {"-": delivered, "reply young": delivered}
        # Queued messages keep their text whatever their age.
        assert db.scalars(select(OutboundSms.body).where(OutboundSms.msisdn == OTHER)).all() == [
            "waiting",
            "waiting",
        ]
        assert db.scalar(select(func.count()).select_from(AuditEvent)) == 1
        kept = db.get(ProduceOffer, offer.id)
        assert kept is not None and kept.inbound_id is None


def test_workers_purge_once_a_day(app: Flask) -> None:
    from workers import purge_daily

    with app.app_context():
        db = db_session()
        db.add(OutboundSms(msisdn=PERSON, body="old", status=SmsStatus.SENT,
                           created_at=utcnow() - timedelta(days=91)))  # fmt: skip
        db.commit()
        assert purge_daily() is True
        assert purge_daily() is False  # another worker, or the next maintenance
        assert db.scalar(select(OutboundSms.body)) is None


# -- log masking -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("to +254712345601.", "to +2547******01."),
        ("['+254712345601', '+254700000202']", "['+2547******01', '+2547******02']"),
        ("inbox?msisdn=%2B254700000101", "inbox?msisdn=%2B2547******01"),
        ('"POST /ussd?token=s3cret&x=1 HTTP/1.1" 200', '"POST /ussd?token=***&x=1 HTTP/1.1" 200'),
        ("api_key=abc password=hunter2 pin=2468", "api_key=*** password=*** pin=***"),
        ("campaign 12: 500 rows, 3 parts", "campaign 12: 500 rows, 3 parts"),
        ("+1234", "+1234"),  # too short for a number
    ],
)
def test_mask_text(text: str, masked: str) -> None:
    assert mask_text(text) == masked


def test_masking_matches_mask_msisdn() -> None:
    from domain.phone import mask_msisdn

    for number in ("+254712345601", "+33612345678", "+8613912345678", "+12025550123"):
        assert mask_text(number) == mask_msisdn(number)


def _all_logs(caplog: pytest.LogCaptureFixture) -> str:
    """Every record as a handler would write it, tracebacks included."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(r) for r in caplog.records)


SECRETS = (PERSON, OTHER, DEMO_CADRE, PERSON_PIN, DEMO_PIN, "test-webhook-token")


def test_no_number_pin_or_password_reaches_the_logs(
    app: Flask, client: FlaskClient, dial: Any, caplog: pytest.LogCaptureFixture, monkeypatch: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    # A USSD session with a PIN: the demo cadre signs in to the staff menu.
    for text in ("", "1", "1*8", f"1*8*{DEMO_PIN}"):
        assert dial("s-log", text, msisdn=DEMO_CADRE).status_code == 200
    # An inbound SMS and its reply.
    form = {"from": PERSON, "to": "21234", "id": "ATXid_l1", "text": "SELL maize 5kg 30 at Ahero"}
    assert client.post("/sms/inbound", data=form).status_code == 200
    run_jobs(app)
    # A console sign-in with a wrong password.
    make_user(app)
    login(client, "achieng", "wrong-password-123")
    login(client, f"{PERSON} hunter2", "x")
    # A failed send, logged with its traceback as RQ's worker does.
    import workers.sms
    from app.gateways import GatewayUnavailable

    class Refusing:
        name = "refusing"

        def send(self, msisdn: str, body: str) -> Any:
            raise GatewayUnavailable(f"gateway refused {msisdn}: {body}")

    monkeypatch.setattr(workers.sms, "sms_sender", lambda config: Refusing())
    with app.app_context():
        db = db_session()
        row = OutboundSms(msisdn=OTHER, body="hello", status=SmsStatus.QUEUED)
        db.add(row)
        db.commit()
        try:
            workers.sms.send_sms(row.id)
        except GatewayUnavailable:
            logging.getLogger("rq.worker").exception("sms: job failed")
        # A database error with a number among its parameters.
        db.execute(insert(Subscriber).values(msisdn=OTHER, opted_out=False, first_seen=utcnow()))
        db.commit()
        try:
            db.execute(
                insert(Subscriber).values(msisdn=OTHER, opted_out=False, first_seen=utcnow())
            )
        except IntegrityError:
            db.rollback()
            logging.getLogger("domain.subscribers").exception("could not add %s", OTHER)
    # werkzeug's request line in development.
    logging.getLogger("werkzeug").info(
        '%s - - "%s" %s', "127.0.0.1", "POST /ussd?token=test-webhook-token HTTP/1.1", 200
    )

    logs = _all_logs(caplog)
    assert "Traceback" in logs and "IntegrityError" in logs and "job failed" in logs
    assert "+2547******02" in logs  # masked, not dropped
    for secret in (*SECRETS, "wrong-password-123", "hunter2"):
        assert secret not in logs, secret


def test_the_filter_masks_records_made_before_install() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "to %s", (PERSON,), None)
    assert MaskingFilter().filter(record) and record.getMessage() == "to +2547******01"


def test_export_never_writes_over_a_file_or_through_a_link(app: Flask, tmp_path: Path) -> None:
    existing = tmp_path / "existing.json"
    existing.write_text("keep me")
    target = tmp_path / "target.txt"
    target.write_text("keep me too")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    runner = app.test_cli_runner()
    for path in (existing, link):
        result = runner.invoke(args=["privacy", "export", "+254700000101", "--out", str(path)])
        assert result.exit_code == 1, result.output
    assert "exists: choose a new file" in result.output or "cannot create" in result.output
    assert existing.read_text() == "keep me" and target.read_text() == "keep me too"
    fresh = tmp_path / "fresh.json"
    result = runner.invoke(args=["privacy", "export", "+254700000101", "--out", str(fresh)])
    assert result.exit_code == 0 and fresh.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("raw", "message"),
    [("abc", "RAW_SMS_RETENTION_DAYS: 'abc' is not a whole number"), ("-1", "is below 0")],
)
def test_a_bad_retention_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, raw: str, message: str
) -> None:
    from app.config import from_env

    monkeypatch.setenv("RAW_SMS_RETENTION_DAYS", raw)
    with pytest.raises(ValueError, match=message):
        from_env()
