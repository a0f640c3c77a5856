"""The jobs board's domain: posting, listing nearest first, applying once, the
two SMS, the JOBS keyword's reply and the alert campaign."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from app.db import db_session
from domain import campaigns, demo, job_alerts, job_applications, jobs
from domain.subscribers import get_or_create_subscriber, opt_out, set_home_area, set_topic
from models import Area, Campaign, CampaignStatus, Job, JobApplication, OutboundSms, Subscriber

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CALLER = "+254700000101"
CONTACT = "+254700000901"


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    with app.app_context():
        yield db_session()


def area(db: Session, path: str) -> Area:
    """A demo area by ``County/Village`` or by a county's or province's name."""
    parent_name, _, name = path.rpartition("/")
    query = select(Area).where(Area.name == name)
    if parent_name:
        parent = aliased(Area)
        query = query.join(parent, parent.id == Area.parent_id).where(parent.name == parent_name)
    return db.scalars(query).one()


def create_job(db: Session, *, at: str = "Kisumu/Ahero", **overrides: Any) -> Job:
    fields: dict[str, Any] = {
        "titles": {"en": "Rice transplanting", "sw": "Kupandikiza mpunga"},
        "requirements": {"en": "Able to work in flooded fields."},
        "employer": "Ahero Rice Growers",
        "contact": "0700 000901",
        "area_id": area(db, at).id,
        "wage": "450",
        "wage_period": "day",
        "currency": "KES",
        "slots": 12,
        "closes_on": date(2026, 12, 20),
        "now": NOW,
    }
    fields.update(overrides)
    job = jobs.add_job(db, **fields)
    db.commit()
    return job


def villager(db: Session, msisdn: str, village: str, *, language: str = "en") -> int:
    sid, _ = get_or_create_subscriber(db, msisdn)
    set_home_area(db, msisdn, area(db, village).id)
    db.get(Subscriber, sid).language = language  # type: ignore[union-attr]
    db.commit()
    return sid


# -- posting -----------------------------------------------------------------------------


def test_add_job_normalises_and_stores(db: Session) -> None:
    job = create_job(db, titles={"en": "  Rice transplanting ", "fr": ""}, employer="Ahero  Rice")
    assert job.id and job.status is jobs.JobStatus.OPEN
    assert job.titles == {"en": "Rice transplanting"}  # empty languages are left out
    assert job.employer == "Ahero Rice"
    assert job.contact_msisdn == CONTACT
    assert job.wage == Decimal("450") and job.closes_on == date(2026, 12, 20)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"titles": {"sw": "Kazi"}}, "a job needs an English title"),
        ({"titles": {"en": "x" * 41}}, "the en title must be 1-40 characters"),
        ({"titles": {"en": "Pickers", "de": "Pflücker"}}, "unsupported language 'de'"),
        ({"wage": "0"}, "the wage must be more than 0"),
        ({"wage": "-5"}, "the wage must be more than 0"),
        ({"wage": "abc"}, "wage 'abc' is not a number"),
        ({"wage": "10.555"}, "the wage has at most 2 decimals"),
        ({"slots": 0}, "slots must be 1-10000"),
        ({"wage_period": "hour"}, "wage period 'hour': one of day, week, month, task"),
        ({"currency": "kes"}, "currency 'kes' is not an ISO 4217 code"),
        ({"closes_on": date(2026, 11, 30)}, "the closing date 2026-11-30 has passed"),
        ({"contact": "12"}, "contact '12' is not a phone number"),
        ({"area_id": 999_999}, "no area with id 999999"),
        ({"employer": "  "}, "the employer's name must be 1-80 characters"),
    ],
)
def test_add_job_refuses(db: Session, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(jobs.JobError, match=message.replace("(", r"\(")):
        create_job(db, **overrides)
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Job)) == 0


def test_closing_today_is_open_until_midnight_in_the_area(db: Session) -> None:
    job = create_job(db, closes_on=date(2026, 12, 1))  # today in Nairobi (UTC+3) at NOW
    assert create_job(
        db, closes_on=date(2026, 12, 1), now=datetime(2026, 11, 30, 21, 30, tzinfo=UTC)
    )
    late = datetime(2026, 12, 1, 20, 59, tzinfo=UTC)  # 23:59 in Nairobi
    assert jobs.is_open(db, job, late)
    after = datetime(
        2026, 12, 1, 21, 0, tzinfo=UTC
    )  # 00:00 on the 2nd in Nairobi, still the 1st in UTC
    assert not jobs.is_open(db, job, after)
    assert jobs.open_jobs_near(db, None, after) == []
    with pytest.raises(jobs.JobError, match="has passed"):
        create_job(db, closes_on=date(2026, 12, 1), now=after)


# -- listing -----------------------------------------------------------------------------


def test_open_jobs_nearest_first(db: Session) -> None:
    far = create_job(db, at="Kilifi/Ganze", closes_on=date(2026, 12, 5))
    province = create_job(db, at="Siaya/Sauri", closes_on=date(2026, 12, 6))
    county_wide = create_job(db, at="Kisumu", closes_on=date(2026, 12, 12))
    county = create_job(db, at="Kisumu/Kombewa", closes_on=date(2026, 12, 10))
    village = create_job(db, at="Kisumu/Ahero", closes_on=date(2026, 12, 30))
    home = area(db, "Kisumu/Ahero").id
    assert jobs.open_jobs_near(db, home, NOW) == [village, county, county_wide, province, far]
    # Unknown area: everything, soonest closing first.
    assert jobs.open_jobs_near(db, None, NOW) == [far, province, county, county_wide, village]
    assert jobs.open_jobs_near(db, 999_999, NOW) == [far, province, county, county_wide, village]


def test_closed_and_past_jobs_are_not_listed(db: Session) -> None:
    kept = create_job(db, closes_on=date(2026, 12, 3))
    closed = create_job(db, closes_on=date(2026, 12, 30))
    create_job(db, closes_on=date(2026, 12, 2))
    jobs.close_job(db, closed.id)
    db.commit()
    later = datetime(2026, 12, 2, 21, 5, tzinfo=UTC)  # the 3rd in Nairobi
    assert jobs.open_jobs_near(db, None, later) == [kept]
    with pytest.raises(jobs.JobError, match="no job with id 999999"):
        jobs.close_job(db, 999_999)


def test_texts_in_each_language(db: Session) -> None:
    job = create_job(db, wage="1500", titles={"en": "Tea pluckers", "sw": "Wachumaji wa chai"})
    assert jobs.title_for(job, "sw") == "Wachumaji wa chai"
    assert jobs.title_for(job, "fr") == "Tea pluckers"  # no French title: English
    assert jobs.wage_text(job, "en") == "KES 1,500/day"
    assert jobs.wage_text(job, "fr").startswith("KES 1 500/")  # French grouping, plain space
    assert jobs.closes_text(job, "en") == "Dec 20, 2026"
    assert jobs.closes_text(job, "zh") == "2026年12月20日"
    assert jobs.requirements_for(job, "zh") == "Able to work in flooded fields."


# -- applying ----------------------------------------------------------------------------


def _apply(db: Session, job: Job, **overrides: Any) -> job_applications.Applied:
    fields: dict[str, Any] = {
        "msisdn": CALLER,
        "name": "Grace  Akinyi",
        "start": "week",
        "skills": "Planted rice 3 seasons",
        "language": "en",
        "now": NOW,
    }
    fields.update(overrides)
    return job_applications.apply(db, job, **fields)


def _sms(db: Session) -> list[tuple[str, str, str | None]]:
    return [
        (row.msisdn, row.body, row.dedup_key)
        for row in db.scalars(select(OutboundSms).order_by(OutboundSms.id))
    ]


def test_apply_stores_the_application_and_queues_both_sms(db: Session) -> None:
    job = create_job(db)
    applied = _apply(db, job)
    app_row = applied.application
    assert applied.created and len(applied.sms) == 2
    assert (app_row.name, app_row.start, app_row.skills) == (
        "Grace Akinyi",
        "week",
        "Planted rice 3 seasons",
    )
    ref = job_applications.reference(app_row)
    assert ref == f"J{job.id}-A{app_row.id}"
    assert _sms(db) == [
        (
            CALLER,
            f"Ngazi: application {ref} for Rice transplanting, Ahero Rice Growers, Ahero is "
            "sent. The employer will call you if chosen.",
            f"job-application:{app_row.id}:receipt",
        ),
        (
            CONTACT,
            f"Ngazi job application {ref}: Rice transplanting, Ahero. Grace Akinyi, "
            f"{CALLER}. Can start: Within a week. Skills: Planted rice 3 seasons",
            f"job-application:{app_row.id}:summary",
        ),
    ]


def test_one_application_per_person_per_job(db: Session) -> None:
    job = create_job(db)
    first = _apply(db, job)
    again = _apply(db, job, name="Someone Else", start="now", skills="")
    assert not again.created and again.application.id == first.application.id
    assert again.application.name == "Grace Akinyi"
    # The same two rows (still queued, so enqueuing their send again is asked: it sends once).
    assert again.sms == first.sms
    assert db.scalar(select(func.count()).select_from(JobApplication)) == 1
    assert len(_sms(db)) == 2
    # Another job: another application.
    other = create_job(db, at="Kisumu/Kombewa")
    assert _apply(db, other).created
    assert db.scalar(select(func.count()).select_from(JobApplication)) == 2


def test_apply_refuses_closed_and_past_jobs(db: Session) -> None:
    closed = create_job(db)
    jobs.close_job(db, closed.id)
    db.commit()
    with pytest.raises(jobs.JobClosed):
        _apply(db, closed)
    past = create_job(db, closes_on=date(2026, 12, 1))
    with pytest.raises(jobs.JobClosed):
        _apply(db, past, now=datetime(2026, 12, 1, 21, 0, tzinfo=UTC))
    assert db.scalar(select(func.count()).select_from(JobApplication)) == 0
    assert _sms(db) == []


def test_an_application_made_before_closing_is_still_found(db: Session) -> None:
    job = create_job(db)
    first = _apply(db, job)
    jobs.close_job(db, job.id)
    db.commit()
    again = _apply(db, job)
    assert not again.created and again.application.id == first.application.id


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "A"}, "a name is 2-60 letters"),
        ({"name": "Grace 2"}, "a name is 2-60 letters"),
        ({"name": "x" * 61}, "a name is 2-60 letters"),
        ({"start": "later"}, "start 'later'"),
        ({"skills": "y" * 101}, "skills are at most 100 characters"),
    ],
)
def test_apply_refuses_bad_answers(db: Session, overrides: dict[str, Any], message: str) -> None:
    job = create_job(db)
    with pytest.raises(jobs.JobError, match=message):
        _apply(db, job, **overrides)


def test_names_as_villagers_type_them() -> None:
    assert job_applications.valid_name("  Grace   Akinyi ") == "Grace Akinyi"
    assert job_applications.valid_name("O'Brien Wafula-Barasa") == "O'Brien Wafula-Barasa"
    assert job_applications.valid_name("Chébet") == "Chébet"
    assert job_applications.valid_name("王芳") == "王芳"
    for bad in ("", "G", "Grace1", "--", "Grace;drop", "12"):
        assert job_applications.valid_name(bad) is None, bad


def test_the_summary_is_in_the_contacts_language(db: Session) -> None:
    villager(db, CONTACT, "Kisumu/Ahero", language="sw")
    job = create_job(db)
    applied = _apply(db, job, skills="")
    summary = job_applications.summary_text(db, job, applied.application)
    assert "Kupandikiza mpunga" in summary  # the contact's language's title
    assert summary.endswith(jobs.gettext_for("sw")(job_applications.MSG_NO_SKILLS))


# -- the JOBS keyword and alerts ---------------------------------------------------------


def test_sms_listing_names_the_three_nearest(db: Session) -> None:
    villager(db, CALLER, "Kisumu/Ahero")
    create_job(db, at="Kilifi/Ganze", titles={"en": "Far away"})
    create_job(
        db, at="Siaya/Sauri", titles={"en": "Health promoter"}, wage="3000", wage_period="month"
    )
    create_job(
        db,
        at="Kisumu/Kombewa",
        titles={"en": "Road works"},
        wage="500",
        closes_on=date(2026, 12, 14),
    )
    create_job(db)
    text = job_alerts.sms_listing(db, CALLER, "en", NOW, "*384*1234#")
    assert text == (
        "Ngazi jobs near you:\n"
        "1. Rice transplanting, Ahero, KES 450/day, closes Dec 20, 2026\n"
        "2. Road works, Kombewa, KES 500/day, closes Dec 14, 2026\n"
        "3. Health promoter, Sauri, KES 3,000/month, closes Dec 20, 2026\n"
        "To apply dial *384*1234#, then 2 Jobs."
    )


def test_sms_listing_when_none_is_open(db: Session) -> None:
    assert job_alerts.sms_listing(db, CALLER, "en", NOW, "*384*1234#") == (
        "Ngazi: no jobs open near you now. Please check again later."
    )


def test_alert_goes_to_subscribers_to_jobs_in_the_county(db: Session) -> None:
    wanted = {
        villager(db, "+254700000111", "Kisumu/Ahero"),
        villager(db, "+254700000112", "Kisumu/Kombewa", language="sw"),
    }
    villager(db, "+254700000113", "Kisumu/Katito")  # not subscribed to jobs
    villager(db, "+254700000114", "Siaya/Sauri")  # another county
    villager(db, "+254700000115", "Kisumu/Ahero")  # opted out
    for sid in (
        *wanted,
        *(
            db.scalar(select(Subscriber.id).where(Subscriber.msisdn == m))
            for m in ("+254700000114", "+254700000115")
        ),
    ):
        set_topic(db, sid, "jobs", True)
    opt_out(db, "+254700000115", "sms")
    db.commit()
    job = create_job(db)
    campaign = job_alerts.alert_campaign(
        db, job, service_code="*384*1234#", price_per_part="KES 0.80"
    )
    db.commit()
    assert campaign is not None
    assert campaign.status is CampaignStatus.SCHEDULED and campaign.dedup_key == f"job:{job.id}"
    assert campaign.audience["areas"] == [area(db, "Kisumu").id]
    assert campaign.audience["topics"] == ["jobs"]
    assert set(campaign.messages) == {"en", "sw", "fr", "zh"}
    got = {row[0] for row in db.execute(campaigns.recipients(db, campaign))}
    assert got == wanted
    assert campaign.estimate is not None and campaign.estimate["recipients"] == 2
    assert campaigns.text_of(db, campaign, "en", area(db, "Kisumu/Ahero").id) == (
        "Ngazi new job: Rice transplanting, Ahero, KES 450/day, 12 places. Apply by "
        "Dec 20, 2026: dial *384*1234#, 2 Jobs. Reply STOP to stop SMS."
    )
    again = job_alerts.alert_campaign(db, job, service_code="*384*1234#", price_per_part="KES 0.80")
    assert again is not None and again.id == campaign.id
    assert db.scalar(select(func.count()).select_from(Campaign)) == 1


def test_no_alert_without_subscribers(db: Session) -> None:
    job = create_job(db, titles={"en": "Braces {village} }"})
    assert (
        job_alerts.alert_campaign(db, job, service_code="*384*1234#", price_per_part="KES 0.80")
        is None
    )
    assert db.scalar(select(func.count()).select_from(Campaign)) == 0
    assert "Braces {village} }" in job_alerts.alert_messages(db, job, "*1#")["en"].replace(
        "{{", "{"
    ).replace("}}", "}")


# -- demo ----------------------------------------------------------------------------------


def test_demo_jobs_load_once_and_stay_open(db: Session) -> None:
    now = datetime.now(UTC)
    assert demo.load_jobs(db, now) == 6
    first = {j.id: j.closes_on for j in db.scalars(select(Job))}
    assert demo.load_jobs(db, now + timedelta(days=3)) == 6
    db.expire_all()
    jobs_now = list(db.scalars(select(Job)))
    assert {j.id for j in jobs_now} == set(first)  # nothing added
    assert all(j.closes_on == first[j.id] + timedelta(days=3) for j in jobs_now)
    assert all(set(j.titles) == {"en", "sw", "fr", "zh"} for j in jobs_now)
    assert all(set(j.requirements) == {"en", "sw", "fr", "zh"} for j in jobs_now)
    nearest = jobs.open_jobs_near(db, area(db, "Kisumu/Ahero").id, now)
    assert len(nearest) == 6
    assert [jobs.title_for(j, "en") for j in nearest[:2]] == [
        "Rice transplanting",
        "Road works labourers",
    ]
