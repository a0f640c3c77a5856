"""``flask job …`` as an employer's cadre or an operator types it."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app import create_app
from app.db import db_session
from domain.subscribers import get_or_create_subscriber, set_home_area, set_topic
from models import Campaign, CampaignStatus, Job, JobStatus
from tests.test_jobs import area

CLOSES = (date.today() + timedelta(days=20)).isoformat()
ADD = [
    "job",
    "add",
    "--title-en",
    "Tea pluckers",
    "--title-sw",
    "Wachumaji wa chai",
    "--employer",
    "Shinyalu Tea Growers",
    "--contact",
    "0700 000902",
    "--area",
    "Kakamega/Shinyalu",
    "--wage",
    "500",
    "--slots",
    "5",
    "--closes",
    CLOSES,
    "--requirements-en",
    "Two leaves and a bud.",
]


def _jobs(app: Flask) -> list[Job]:
    with app.app_context():
        db = db_session()
        found = list(db.scalars(select(Job).order_by(Job.id)))
        for job in found:
            db.expunge(job)
        return found


def _subscribe(app: Flask, msisdn: str, village: str) -> None:
    with app.app_context():
        db = db_session()
        sid, _ = get_or_create_subscriber(db, msisdn)
        set_home_area(db, msisdn, area(db, village).id)
        set_topic(db, sid, "jobs", True)
        db.commit()


def test_add_posts_the_job_and_alerts_the_county(app: Flask) -> None:
    _subscribe(app, "+254700000121", "Kakamega/Khayega")
    _subscribe(app, "+254700000122", "Kakamega/Lubao")
    _subscribe(app, "+254700000123", "Bungoma/Chwele")  # another county
    result = app.test_cli_runner().invoke(args=ADD)
    assert result.exit_code == 0, result.output
    [job] = _jobs(app)
    assert result.output == (
        f"job {job.id}: Tea pluckers, Shinyalu Tea Growers, Shinyalu, KES 500/day, places: 5, "
        f"closes {CLOSES}\n"
        f"alert: campaign {_campaign_id(app)} to 2 subscribers to jobs\n"
    )
    assert job.titles == {"en": "Tea pluckers", "sw": "Wachumaji wa chai"}
    assert job.requirements == {"en": "Two leaves and a bud."}
    assert (job.contact_msisdn, job.wage, job.wage_period, job.currency, job.slots) == (
        "+254700000902",
        Decimal("500.00"),
        "day",
        "KES",  # the area's country's currency
        5,
    )
    assert job.closes_on.isoformat() == CLOSES and job.status is JobStatus.OPEN
    with app.app_context():
        campaign = db_session().scalars(select(Campaign)).one()
        assert campaign.dedup_key == f"job:{job.id}"
        assert campaign.audience["areas"] == [area(db_session(), "Kakamega").id]
        assert campaign.audience["topics"] == ["jobs"]


def _campaign_id(app: Flask) -> int:
    with app.app_context():
        return db_session().scalars(select(Campaign.id)).one()


def test_add_without_subscribers_or_with_no_alert(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=ADD)
    assert result.exit_code == 0, result.output
    assert result.output.endswith("alert: nobody in the county subscribes to jobs; no SMS sent\n")
    _subscribe(app, "+254700000121", "Kakamega/Khayega")
    with app.app_context():
        lubao = area(db_session(), "Kakamega/Lubao").id
    quiet = runner.invoke(args=[*ADD, "--no-alert", "--area", str(lubao), "--per", "week"])
    assert quiet.exit_code == 0, quiet.output
    assert "alert" not in quiet.output
    with app.app_context():
        assert list(db_session().scalars(select(Campaign))) == []
    second = _jobs(app)[1]
    assert second.area_id == lubao and second.wage_period == "week"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--wage", "0"], "Error: the wage must be more than 0"),
        (["--wage", "lots"], "Error: wage 'lots' is not a number"),
        (["--closes", "2020-01-01"], "Error: the closing date 2020-01-01 has passed"),
        (["--closes", "20/12/2026"], "Invalid value for --closes: YYYY-MM-DD"),
        (["--contact", "12"], "Error: contact '12' is not a phone number"),
        (["--area", "Atlantis"], "Invalid value for --area: no area 'Atlantis'"),
        (["--area", "999999"], "Invalid value for --area: no area with id 999999"),
        (["--slots", "0"], "Invalid value for '--slots'"),
        (["--per", "hour"], "Invalid value for '--per'"),
        (["--currency", "shillings"], "Error: currency 'SHILLINGS' is not an ISO 4217 code"),
        (["--title-en", "x" * 41], "Error: the en title must be 1-40 characters"),
    ],
)
def test_add_refuses(app: Flask, change: list[str], message: str) -> None:
    result = app.test_cli_runner().invoke(args=[*ADD, *change])
    assert result.exit_code == 2 if "Invalid value" in message else result.exit_code == 1
    assert message in result.output, result.output
    assert _jobs(app) == []


def test_add_needs_an_english_title(app: Flask) -> None:
    args = [a for a in ADD if a not in ("--title-en", "Tea pluckers")]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 2 and "Missing option '--title-en'" in result.output


def test_list_and_close(app: Flask) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=[*ADD, "--no-alert"]).exit_code == 0
    [job] = _jobs(app)
    listed = runner.invoke(args=["job", "list"])
    assert listed.output.splitlines() == [
        "id\tstatus\tcloses\tarea\twage\tslots\tapplied\ttitle",
        f"{job.id}\topen\t{CLOSES}\tShinyalu\tKES 500/day\t5\t0\tTea pluckers",
    ]
    closed = runner.invoke(args=["job", "close", str(job.id)])
    assert closed.exit_code == 0 and closed.output == f"job {job.id} closed: Tea pluckers\n"
    assert _jobs(app)[0].status is JobStatus.CLOSED
    assert runner.invoke(args=["job", "list"]).output.count("\n") == 1  # the header only
    assert (
        runner.invoke(args=["job", "list", "--all"])
        .output.splitlines()[1]
        .startswith(f"{job.id}\tclosed\t")
    )
    missing = runner.invoke(args=["job", "close", "999999"])
    assert missing.exit_code == 1 and "Error: no job with id 999999" in missing.output


def test_demo_load_adds_the_demo_jobs_once(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    assert first.output.rstrip().endswith("3 SMS templates, 6 jobs")
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    assert len(_jobs(app)) == 6


def test_with_redis_away_the_alert_waits_for_the_tick_and_the_job_is_posted_once(
    app: Flask, base_config: dict[str, Any]
) -> None:
    """Redis down when the alert campaign would start: the job and its campaign
    are saved (scheduled, for the campaigns' tick to start), and the command
    says so rather than failing with a traceback an operator would re-run."""
    _subscribe(app, "+254700000121", "Kakamega/Khayega")
    away = create_app({**base_config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    result = away.test_cli_runner().invoke(args=ADD)
    assert result.exit_code == 0, result.output
    assert result.output.endswith(f"alert: campaign {_campaign_id(app)} to 1 subscribers to jobs\n")
    assert len(_jobs(app)) == 1
    with app.app_context():
        campaign = db_session().scalars(select(Campaign)).one()
        assert campaign.status is CampaignStatus.SCHEDULED  # the tick starts it


def test_a_bad_price_setting_is_refused_at_start(base_config: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="SMS_PRICE_PER_PART: price '80 cents'"):
        create_app({**base_config, "SMS_PRICE_PER_PART": "80 cents"})
