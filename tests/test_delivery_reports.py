"""POST /sms/delivery (delivery reports) and /sms/optout (the gateway's opt-out notices)."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.db import db_session
from domain.delivery import mask
from models import OutboundSms, SmsStatus, Subscriber
from tests.conftest import FIXTURES

REPORTS = [
    json.loads(line)
    for line in (FIXTURES / "sms" / "delivery-reports.jsonl").read_text("utf-8").splitlines()
    if line.strip()
]
FIELDS = ("id", "status", "phoneNumber", "networkCode", "failureReason", "retryCount")


def _report(report: dict[str, str]) -> dict[str, str]:
    return {k: report[k] for k in FIELDS if k in report}


def _outbound(
    app: Flask,
    msisdn: str,
    message_id: str | None,
    status: SmsStatus = SmsStatus.SENT,
    claimed_at: datetime | None = None,
) -> int:
    with app.app_context():
        row = OutboundSms(
            msisdn=msisdn,
            body="Habari",
            status=status,
            gateway="africastalking",
            gateway_message_id=message_id,
            claimed_at=claimed_at,
        )
        db_session().add(row)
        db_session().commit()
        return row.id


def _row(app: Flask, row_id: int) -> OutboundSms:
    with app.app_context():
        row = db_session().get(OutboundSms, row_id)
        assert row is not None
        return row


def _subscriber(app: Flask, msisdn: str) -> Subscriber | None:
    with app.app_context():
        return db_session().scalar(select(Subscriber).where(Subscriber.msisdn == msisdn))


def test_fixture_sequence(app: Flask, client: FlaskClient) -> None:
    # Each message to the number its reports name (a report is looked up by both).
    numbers = {r["id"]: r["phoneNumber"] for r in REPORTS if r["id"] != "ATXid_unknown"}
    ids = {message_id: _outbound(app, number, message_id) for message_id, number in numbers.items()}
    answers = []
    for report in REPORTS:
        resp = client.post("/sms/delivery", data=_report(report))
        assert (resp.status_code, resp.mimetype) == (200, "text/plain")
        answers.append(resp.get_data(as_text=True))
    assert answers == [
        "updated",  # d1 Sent
        "updated",  # d1 Submitted (still sent; the report status is kept)
        "updated",  # d1 Buffered
        "updated",  # d1 Success
        "unchanged",  # d1 a late Sent
        "updated",  # d2 Rejected, blacklisted
        "updated",  # d3 Failed
        "updated",  # d4 Failed
        "updated",  # d5 Failed
        "unknown",  # never ours
        "updated",  # d6 Expired: kept, status unchanged
    ]
    final = {
        key: (r.status, r.report_status, r.network_code, r.failure_reason)
        for key, r in ((key, _row(app, row_id)) for key, row_id in ids.items())
    }
    assert final == {
        "ATXid_d1": (SmsStatus.DELIVERED, "Success", "63902", None),
        "ATXid_d2": (SmsStatus.REJECTED, "Rejected", "63903", "UserInBlackList"),
        "ATXid_d3": (SmsStatus.FAILED, "Failed", "63907", "DeliveryFailure"),
        "ATXid_d4": (SmsStatus.FAILED, "Failed", "64110", "UserIsInactive"),
        "ATXid_d5": (SmsStatus.FAILED, "Failed", "63902", "UserAccountSuspended"),
        "ATXid_d6": (SmsStatus.SENT, "Expired", "63902", None),
    }
    assert _row(app, ids["ATXid_d1"]).delivered_at is not None
    assert _row(app, ids["ATXid_d3"]).delivered_at is None
    blacklisted = _subscriber(app, "+254700000202")
    assert blacklisted is not None
    assert (blacklisted.opted_out, blacklisted.opt_out_source) == (True, "blacklist")
    assert _subscriber(app, "+254700000203") is None  # an ordinary failure opts no one out


@pytest.mark.parametrize(
    ("first", "then", "answer", "final"),
    [
        ("Rejected", "Failed", "unchanged", (SmsStatus.REJECTED, "Rejected")),
        ("Failed", "Success", "unchanged", (SmsStatus.FAILED, "Failed")),
        ("Success", "Expired", "unchanged", (SmsStatus.DELIVERED, "Success")),
        ("Success", "Buffered", "unchanged", (SmsStatus.DELIVERED, "Success")),
        ("Buffered", "AbsentSubscriber", "updated", (SmsStatus.FAILED, "AbsentSubscriber")),
        ("Expired", "Success", "updated", (SmsStatus.DELIVERED, "Success")),
    ],
)
def test_statuses_only_move_forward(
    app: Flask,
    client: FlaskClient,
    first: str,
    then: str,
    answer: str,
    final: tuple[SmsStatus, str],
) -> None:
    row_id = _outbound(app, "+254700000201", "ATXid_f1")
    form = {"id": "ATXid_f1", "phoneNumber": "+254700000201", "networkCode": "63902"}
    assert client.post("/sms/delivery", data={**form, "status": first}).text == "updated"
    assert client.post("/sms/delivery", data={**form, "status": then}).text == answer
    row = _row(app, row_id)
    assert (row.status, row.report_status) == final


def test_concurrent_reports_cannot_take_a_message_back(app: Flask) -> None:
    row_id = _outbound(app, "+254700000201", "ATXid_race")
    statuses = ["Success", "Sent", "Buffered", "Submitted"] * 3
    barrier = threading.Barrier(len(statuses))

    def post(status: str) -> None:
        client = app.test_client()
        barrier.wait()
        report = {"id": "ATXid_race", "status": status, "phoneNumber": "+254700000201"}
        client.post("/sms/delivery", data=report)

    threads = [threading.Thread(target=post, args=(s,)) for s in statuses]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    row = _row(app, row_id)
    assert (row.status, row.report_status) == (SmsStatus.DELIVERED, "Success")


def test_unknown_id_reconciles_the_oldest_unanswered_claim_to_that_number(
    app: Flask, client: FlaskClient
) -> None:
    now = datetime.now(UTC)
    msisdn = "+254700000210"
    # Both claims old enough that their workers are gone (a younger one waits:
    # see the test below).
    newer = _outbound(app, msisdn, None, SmsStatus.SENDING, claimed_at=now - timedelta(minutes=2))
    older = _outbound(app, msisdn, None, SmsStatus.SENDING, claimed_at=now - timedelta(minutes=5))
    other = _outbound(app, "+254700000211", None, SmsStatus.SENDING, claimed_at=now)
    answered = _outbound(app, msisdn, "ATXid_known", SmsStatus.SENT)

    def report(message_id: str, status: str) -> str:
        form = {"id": message_id, "status": status, "phoneNumber": msisdn, "networkCode": "63902"}
        resp = client.post("/sms/delivery", data=form)
        assert resp.status_code == 200
        return resp.get_data(as_text=True)

    assert report("ATXid_r1", "Success") == "updated"
    row = _row(app, older)
    assert (row.gateway_message_id, row.status, row.report_status) == (
        "ATXid_r1",
        SmsStatus.DELIVERED,
        "Success",
    )
    assert row.delivered_at is not None and row.sent_at is not None
    assert report("ATXid_r2", "Buffered") == "updated"
    row = _row(app, newer)
    assert (row.gateway_message_id, row.status, row.report_status) == (
        "ATXid_r2",
        SmsStatus.SENT,
        "Buffered",
    )
    assert report("ATXid_r3", "Success") == "unknown"  # no claim left to this number
    assert report("ATXid_r1", "Sent") == "unchanged"  # now known: a late report
    assert (_row(app, other).status, _row(app, other).gateway_message_id) == (
        SmsStatus.SENDING,
        None,
    )
    assert _row(app, answered).report_status is None


def test_unknown_id_is_logged_with_the_number_masked(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="domain.delivery"):
        resp = client.post(
            "/sms/delivery",
            data={"id": "ATXid_unknown", "status": "Success", "phoneNumber": "+254700000206"},
        )
    assert (resp.status_code, resp.get_data(as_text=True)) == (200, "unknown")
    assert [r.getMessage() for r in caplog.records] == [
        "delivery report ATXid_unknown (Success) for an unknown message to +2547******06"
    ]


def test_mask() -> None:
    assert [mask("+254700000101"), mask(None), mask("+2547")] == [
        "+2547******01",
        "(no number)",
        "*****",
    ]


def test_network_code_and_retry_count_are_read_safely(app: Flask, client: FlaskClient) -> None:
    row_id = _outbound(app, "+254700000201", "ATXid_n1")
    form = {
        "id": "ATXid_n1",
        "status": "Sent",
        "phoneNumber": "+254700000201",
        "networkCode": "not-a-code",
        "retryCount": "x",
    }
    assert client.post("/sms/delivery", data=form).text == "updated"
    assert _row(app, row_id).network_code is None


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"status": "Success"}, "id and status are required"),
        ({"id": "ATXid_d1"}, "id and status are required"),
        ({"id": " ", "status": "Success"}, "id and status are required"),
        ({"id": "ATXid_d1", "status": ""}, "id and status are required"),
        ({"id": "ATXid\x00", "status": "Success"}, "NUL byte in id"),
        ({"id": "A" * 65, "status": "Success"}, "id too long"),
        ({"id": "ATXid_d1", "status": "S" * 33}, "status too long"),
    ],
)
def test_malformed_report_is_400(client: FlaskClient, form: dict[str, str], reason: str) -> None:
    resp = client.post("/sms/delivery", data=form)
    assert (resp.status_code, resp.get_data(as_text=True), resp.mimetype) == (
        400,
        f"Bad request: {reason}",
        "text/plain",
    )


def test_gateway_opt_out_notice(app: Flask, client: FlaskClient) -> None:
    resp = client.post("/sms/optout", data={"senderId": "NGAZI", "phoneNumber": "254700000220"})
    assert (resp.status_code, resp.get_data(as_text=True), resp.mimetype) == (
        200,
        "OK",
        "text/plain",
    )
    subscriber = _subscriber(app, "+254700000220")
    assert subscriber is not None
    assert (subscriber.opted_out, subscriber.opt_out_source) == (True, "gateway")
    assert client.post("/sms/optout", data={"phoneNumber": "+254700000220"}).text == "OK"


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"senderId": "NGAZI"}, "phoneNumber is required"),
        ({"senderId": "NGAZI", "phoneNumber": ""}, "phoneNumber is required"),
        ({"senderId": "NGAZI", "phoneNumber": "not a number"}, "phoneNumber is not a phone number"),
        ({"senderId": "NGAZI", "phoneNumber": "+254700000220\x00"}, "NUL byte in phoneNumber"),
        ({"senderId": "N" * 65, "phoneNumber": "+254700000220"}, "senderId too long"),
    ],
)
def test_malformed_opt_out_notice_is_400(
    app: Flask, client: FlaskClient, form: dict[str, str], reason: str
) -> None:
    resp = client.post("/sms/optout", data=form)
    assert (resp.status_code, resp.get_data(as_text=True)) == (400, f"Bad request: {reason}")
    assert _subscriber(app, "+254700000220") is None


def test_a_report_for_a_claim_its_worker_may_still_answer_waits(app: Flask) -> None:
    """Two campaigns may be sending to one number at once: a report with an id we
    have not recorded is not given to a claim whose worker may still answer; it
    waits in the database, and the tick applies it when due."""
    from domain.delivery import Report, apply_report, apply_waiting, wait
    from models import WaitingReport

    young = _outbound(app, "+254700000990", None, SmsStatus.SENDING, datetime.now(UTC))
    report = Report("ATXid_race", "Success", "+254700000990")
    now = datetime.now(UTC)
    with app.app_context():
        db = db_session()
        assert apply_report(db, report, settle_after=timedelta(seconds=35)) == "later"
        wait(db, report, now + timedelta(seconds=35))
        db.commit()
        assert apply_waiting(db, now) == 0  # not due yet
    assert _row(app, young).status is SmsStatus.SENDING
    # Its worker answered meanwhile (the id is recorded): applied when due, it lands there.
    with app.app_context():
        db = db_session()
        db.execute(
            update(OutboundSms)
            .where(OutboundSms.id == young)
            .values(status=SmsStatus.SENT, gateway_message_id="ATXid_race")
        )
        db.commit()
        assert apply_waiting(db, now + timedelta(seconds=36)) == 1
        assert db.scalars(select(WaitingReport)).all() == []
    assert _row(app, young).status is SmsStatus.DELIVERED


def test_a_report_that_names_no_number_is_not_searched_for(app: Flask, client: FlaskClient) -> None:
    """Found by id alone it would read the whole table (the id has no index)."""
    row_id = _outbound(app, "+254700000201", "ATXid_nonumber")
    form = {"id": "ATXid_nonumber", "status": "Success"}
    assert client.post("/sms/delivery", data=form).text == "unknown"
    assert _row(app, row_id).status is SmsStatus.SENT
