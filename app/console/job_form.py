"""The console's job form, and what each language's text of a job costs.

The form only carries what was typed and reads it into ``domain.jobs.check_job``'s
arguments; every rule (English title required, lengths, the wage, the closing
date in the area's time zone, the contact number) is the domain's, whose
``JobError.problems`` the page shows next to the fields they name. The area is a
county select and, under it, a select of that county's villages only (filled on
the server from the county chosen: thousands of villages never reach one page;
"Update" refreshes it without JavaScript).

``measure`` shows per language how a caller meets the job: the USSD jobs list
as its first screen reads with this job on it (the title cut as
``menus.jobs`` cuts it), the screens of the job's details, and the new-job
alert SMS (``domain.job_alerts.alert_messages``) as ``domain.sms_encoding``
counts it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from app.console import row_id
from domain import jobs
from domain.job_alerts import alert_messages
from domain.market import local_currency
from domain.sms_encoding import Segments, analyse
from domain.sms_templates import render
from domain.translation import LANGUAGES, gettext_for
from menus import jobs as jobs_menu
from menus.context import Context
from menus.engine import Engine
from menus.menu import Items, Menu, Option
from menus.screen import Limits
from menus.session import SessionState
from models import Area, AreaLevel, Job

PERIOD_NAMES = {"day": "a day", "week": "a week", "month": "a month", "task": "a task"}
WHOLE_COUNTY = ""


class JobForm(FlaskForm):  # type: ignore[misc]
    title_en = StringField("English title (required)")
    requirements_en = TextAreaField("English requirements")
    title_sw = StringField("Kiswahili title")
    requirements_sw = TextAreaField("Kiswahili requirements")
    title_fr = StringField("French title")
    requirements_fr = TextAreaField("French requirements")
    title_zh = StringField("Chinese title")
    requirements_zh = TextAreaField("Chinese requirements")
    employer = StringField("Employer")
    contact = StringField("Contact phone (gets each application by SMS)")
    county = SelectField("County", choices=[], validate_choice=False)
    village = SelectField("Village", choices=[], validate_choice=False)
    wage = StringField("Wage")
    wage_period = SelectField(
        "Paid per", choices=[SelectChoice(k, v) for k, v in PERIOD_NAMES.items()]
    )
    currency = StringField("Currency (ISO 4217; empty: the area's own)")
    slots = StringField("Places")
    closes_on = StringField("Closes on (the last day to apply, in the area's time)")
    alert = BooleanField("SMS the subscribers to jobs in the county now")

    def fill_choices(self, db: Session) -> None:
        """Counties as "Province / County"; the villages of the county chosen."""
        province = aliased(Area)
        rows = db.execute(
            select(Area.id, Area.name, province.name)
            .outerjoin(province, province.id == Area.parent_id)
            .where(Area.level == AreaLevel.COUNTY)
            .order_by(province.name, Area.name)
        ).all()
        self.county.choices = [SelectChoice("", "Choose a county")] + [
            SelectChoice(str(i), f"{above} / {name}" if above else name) for i, name, above in rows
        ]
        villages: list[tuple[int, str]] = []
        county = self._county(db)
        if county is not None:
            villages = [
                (row.id, row.name)
                for row in db.execute(
                    select(Area.id, Area.name)
                    .where(Area.parent_id == county.id, Area.level == AreaLevel.VILLAGE)
                    .order_by(Area.name)
                )
            ]
        self.village.choices = [SelectChoice(WHOLE_COUNTY, "The whole county")] + [
            SelectChoice(str(i), name) for i, name in villages
        ]

    def fill_from(self, db: Session, job: Job) -> None:
        for code in LANGUAGES:
            getattr(self, f"title_{code}").data = job.titles.get(code, "")
            getattr(self, f"requirements_{code}").data = job.requirements.get(code, "")
        self.employer.data = job.employer
        self.contact.data = job.contact_msisdn
        area = db.get(Area, job.area_id)
        if area is not None and area.level is AreaLevel.VILLAGE:
            self.county.data, self.village.data = str(area.parent_id), str(area.id)
        else:
            self.county.data, self.village.data = str(job.area_id), WHOLE_COUNTY
        self.wage.data = f"{job.wage:f}"
        self.wage_period.data = job.wage_period
        self.currency.data = job.currency
        self.slots.data = str(job.slots)
        self.closes_on.data = job.closes_on.isoformat()

    def _county(self, db: Session) -> Area | None:
        area = db.get(Area, row_id(self.county.data) or 0)
        return area if area is not None and area.level is AreaLevel.COUNTY else None

    def area(self, db: Session) -> tuple[Area | None, str | None]:
        """The area chosen (a village of the county, or the county) and what is wrong."""
        county = self._county(db)
        if county is None:
            return None, "Choose a county."
        if not self.village.data:
            return county, None
        village = db.get(Area, row_id(self.village.data) or 0)
        if village is None or village.parent_id != county.id:
            return None, "That village is not in this county: choose it again."
        return village, None

    def arguments(self, db: Session, now: datetime) -> tuple[dict[str, Any], dict[str, str]]:
        """``check_job``'s keyword arguments (but ``db`` and ``region``) as typed,
        and the problems found before the domain's rules (a date that is no
        date, places that are no number): those fields get a stand-in the
        domain accepts, and keep the form's message."""
        problems: dict[str, str] = {}
        area, wrong = self.area(db)
        if wrong:
            problems["area"] = wrong
        zone = area.timezone if area is not None else "UTC"
        slots_text = (self.slots.data or "").strip()
        slots = int(slots_text) if slots_text.isascii() and slots_text.isdigit() else None
        if slots is None or slots > jobs.MAX_SLOTS:
            problems["slots"] = f"Places: a whole number, 1 to {jobs.MAX_SLOTS:,}."
        closes = _date(self.closes_on.data or "")
        if closes is None:
            problems["closes_on"] = "A date, as YYYY-MM-DD."
        wage = (self.wage.data or "").strip()
        if not wage:
            problems["wage"] = "Required: the amount paid per period, such as 450 or 12.50."
        currency = (self.currency.data or "").strip().upper()
        if not currency:  # the area's own (a stand-in while there is no area)
            currency = local_currency(area.country) if area is not None else "XXX"
        args = {
            "titles": {c: getattr(self, f"title_{c}").data or "" for c in LANGUAGES},
            "requirements": {c: getattr(self, f"requirements_{c}").data or "" for c in LANGUAGES},
            "employer": self.employer.data or "",
            "contact": self.contact.data or "",
            "area_id": area.id if area is not None else 0,
            "wage": wage or "1",
            "wage_period": self.wage_period.data or "",
            "currency": currency,
            "slots": slots if slots is not None and "slots" not in problems else 1,
            "closes_on": closes or jobs.local_today(zone, now),
            "now": now,
        }
        return args, problems

    def show_problems(self, problems: dict[str, str]) -> str | None:
        """Put each problem under its field; return what belongs to no field."""
        general = []
        for name, message in problems.items():
            text = message.replace(" (--title-en)", "")
            text = text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
            target = "county" if name == "area" else name
            field: Any = getattr(self, target, None) if target else None
            if field is None:
                general.append(text)
            else:
                field.errors = [*field.errors, text]
        return " ".join(general) or None


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if len(text.strip()) == 10 else None
    except ValueError:
        return None


# -- how it reads on a phone ------------------------------------------------------------


@dataclass(frozen=True)
class JobFit:
    """One language's view of a job: ``fallback`` when it has no title of its
    own (callers read the English one); ``list_screen`` the jobs list's first
    screen with this job first, as a caller reads it; ``cut`` when the title
    was shortened for that list; ``screens`` the job's details screens (with
    ``98 More`` between them); ``sms`` the alert SMS (closing date written as
    that language writes dates)."""

    language: str
    fallback: bool
    list_screen: str
    cut: bool
    screens: int
    sms: Segments


def draft_job(args: dict[str, Any]) -> Job | None:
    """A job not saved (never added to a session) from ``JobForm.arguments``,
    to measure; None until it has an English title."""
    titles = {c: t.strip() for c, t in args["titles"].items() if t and t.strip()}
    if "en" not in titles:
        return None
    try:
        wage = Decimal(str(args["wage"]))
    except InvalidOperation:
        wage = Decimal(0)
    return Job(
        titles=titles,
        requirements={c: r.strip() for c, r in args["requirements"].items() if r and r.strip()},
        employer=" ".join(args["employer"].split()),
        contact_msisdn="",
        area_id=args["area_id"],
        wage=wage if wage.is_finite() else Decimal(0),
        wage_period=args["wage_period"],
        currency=args["currency"] or "XXX",
        slots=args["slots"],
        closes_on=args["closes_on"],
    )


def measure(
    db: Session, job: Job | None, *, limits: Limits, fold_to_gsm7: bool, service_code: str
) -> dict[str, JobFit]:
    """``JobFit`` per language of ``LANGUAGES`` (empty without a job). ``limits``
    and ``fold_to_gsm7`` are the USSD engine's; ``service_code`` the one the
    alert names."""
    if job is None:
        return {}
    engine = Engine(
        {"jobs": _preview_menu()}, limits=limits, default_language="en", fold_to_gsm7=fold_to_gsm7
    )
    place = jobs.place_of(db, job)
    alerts = alert_messages(db, job, service_code)
    out = {}
    for language in LANGUAGES:
        _ = gettext_for(language)
        title = jobs.title_for(job, language)
        short = jobs_menu._shorten(title, jobs_menu.LABEL_TITLE)
        details = [
            _(jobs_menu.MSG_DETAILS)
            % {
                "employer": job.employer,
                "place": place,
                "wage": jobs.wage_text(job, language),
                "slots": job.slots,
                "closes": jobs.closes_text(job, language),
            }
        ]
        needs = jobs.requirements_for(job, language)
        if needs:
            details.append(_(jobs_menu.MSG_NEEDS) % {"requirements": needs})
        data = {
            "label": f"{short}, {place}, {jobs.wage_text(job, language)}",
            "title": title,
            "body": "\n".join(details),
        }
        ctx = Context("", "", 0, language, db, _, data=data)
        first = engine.pages(SessionState("", 0, language, "jobs", "list"), ctx)[0]
        screens = len(engine.pages(SessionState("", 0, language, "jobs", "details"), ctx))
        sms = render(
            alerts[language],
            language,
            variables={"closing_date": job.closes_on.isoformat()},
            village=None,
            county=None,
        )
        header = engine.layout(SessionState("", 0, language, "jobs", "list"), ctx).title
        out[language] = JobFit(
            language,
            language not in job.titles,
            f"{header}\n{first.text}",
            short != title,
            screens,
            analyse(sms),
        )
    return out


@functools.cache
def _preview_menu() -> Menu:
    """The USSD jobs menu with the list and the details reading the job from the
    context's data instead of the database (an open job not yet applied for);
    everything else (navigation, limits, banners) is the real menu's."""
    real = jobs_menu.MENU
    listed = real.by_name["list"]
    assert listed.items is not None
    shown = {
        "list": replace(
            listed, items=Items(lambda ctx: [(0, str(ctx.data["label"]))], "job", "details")
        ),
        "details": replace(
            real.by_name["details"],
            title=lambda ctx: str(ctx.data["title"]),
            body=lambda ctx: str(ctx.data["body"]),
            options=(Option("1", jobs_menu.MSG_APPLY, "name"),),
        ),
    }
    states = [shown.get(s.name, s) for s in real.states]
    return Menu(name=real.name, states=states, roots=real.roots)
