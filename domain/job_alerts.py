"""Jobs by SMS: the reply to the ``JOBS`` keyword (open jobs nearest the
sender) and the alert a new job sends to subscribers of the jobs topic in its
county, through the campaigns (``domain.campaigns``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import campaigns
from domain.areas import county_of
from domain.jobs import closes_text, open_jobs_near, place_of, title_for, wage_text
from domain.translation import LANGUAGES, N_, gettext_for
from models import Campaign, CampaignStatus, Job, Subscriber

MSG_LIST_HEAD = N_("Ngazi jobs near you:")
MSG_LIST_ITEM = N_("%(title)s, %(place)s, %(wage)s, closes %(closes)s")
MSG_LIST_HOW = N_("To apply dial %(code)s, then 2 Jobs.")
MSG_LIST_NONE = N_("Ngazi: no jobs open near you now. Please check again later.")
MSG_ALERT = N_(
    "Ngazi new job: %(title)s, %(place)s, %(wage)s, %(slots)d places. Apply by %(closes)s: "
    "dial %(code)s, 2 Jobs. Reply STOP to stop SMS."
)


def sms_listing(
    db: Session, msisdn: str, language: str, now: datetime, service_code: str, limit: int = 3
) -> str:
    """The reply to the ``JOBS`` keyword: up to ``limit`` open jobs nearest the
    sender's home village (every open job when it is not known), each with
    title, place, wage and closing date, then how to apply by USSD
    (``service_code`` like ``*384*1234#``); a "none near you" text when none."""
    language = language if language in LANGUAGES else "en"
    _ = gettext_for(language)
    area_id = db.scalar(select(Subscriber.area_id).where(Subscriber.msisdn == msisdn))
    jobs = open_jobs_near(db, area_id, now)[:limit]
    if not jobs:
        return _(MSG_LIST_NONE)
    lines = [_(MSG_LIST_HEAD)]
    for i, job in enumerate(jobs, 1):
        item = _(MSG_LIST_ITEM) % {
            "title": title_for(job, language),
            "place": place_of(db, job),
            "wage": wage_text(job, language),
            "closes": closes_text(job, language),
        }
        lines.append(f"{i}. {item}")
    lines.append(_(MSG_LIST_HOW) % {"code": service_code})
    return "\n".join(lines)


def alert_county(db: Session, job: Job) -> int:
    """The area a job's alert goes to: the county of a village's job, else the
    job's own area (a county- or province-wide job)."""
    return county_of(db, job.area_id)


def alert_messages(db: Session, job: Job, service_code: str) -> dict[str, str]:
    """The alert's campaign text in every language (``{closing_date}`` is the
    campaign's variable, written as each recipient's language writes dates)."""

    def literal(text: str) -> str:  # a name is never read as a placeholder
        return text.replace("{", "{{").replace("}", "}}")

    out = {}
    for language in LANGUAGES:
        out[language] = gettext_for(language)(MSG_ALERT) % {
            "title": literal(title_for(job, language)),
            "place": literal(place_of(db, job)),
            "wage": wage_text(job, language),
            "slots": job.slots,
            "closes": "{closing_date}",
            "code": literal(service_code),
        }
    return out


def alert_campaign(
    db: Session,
    job: Job,
    *,
    service_code: str,
    price_per_part: str,
    quiet_hours: str | None = "20:00-07:00",
) -> Campaign | None:
    """Schedule the job's alert: a campaign (``domain.campaigns``) to subscribers
    of the "jobs" topic living in the job's county (``alert_county``), one text
    per language, keyed ``job:<id>`` (asking again returns the same campaign).
    None when nobody is subscribed there (nothing is created). The caller
    commits and starts it (``workers.campaigns.start``) when its status is
    ``scheduled``. Raises ``CampaignError`` (an audience over several time
    zones)."""
    key = f"job:{job.id}"
    found = db.scalars(select(Campaign).where(Campaign.dedup_key == key)).first()
    if found is not None:
        return found

    def build(save: bool) -> Campaign:
        return campaigns.create_campaign(
            db,
            name=f"Job {job.id}: {job.titles['en']}"[:120],
            messages=alert_messages(db, job, service_code),
            audience=campaigns.Audience(areas=(alert_county(db, job),), topics=("jobs",)),
            variables={"closing_date": job.closes_on.isoformat()},
            quiet_hours=quiet_hours,
            dedup_key=key,
            save=save,
        )

    if campaigns.preview(db, build(False), price_per_part).recipients == 0:
        return None
    campaign = build(True)
    if campaign.status is CampaignStatus.DRAFT:
        campaigns.schedule(db, campaign, campaigns.preview(db, campaign, price_per_part))
    return campaign
