"""Jobs: open jobs near the caller's village, a job's details, and applying
(name, when they can start, skills, confirm). The application and its two SMS
are made by ``domain.job_applications.apply``, once per number and job however often the
callback comes.

Session data: ``jobs_shown`` (the ids listed, nearest first), ``job`` (the
job shown), ``job_name``, ``job_start`` (a key of
``domain.job_applications.STARTS``) and ``job_skills`` as answered.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from domain import job_applications, jobs
from domain.translation import N_
from menus.context import Context
from menus.menu import Effect, Input, Items, Menu, Option, Outcome, State, translated
from models import Job, JobApplication, Subscriber
from models.base import utcnow

MSG_TITLE = N_("Jobs")
MSG_NEAR = N_("Jobs near you")
MSG_NONE = N_("No jobs open near you now. Please check again later.")
MSG_DETAILS = N_("%(employer)s, %(place)s\n%(wage)s. Places: %(slots)d\nCloses %(closes)s")
MSG_NEEDS = N_("Needs: %(requirements)s")
MSG_APPLIED = N_("You applied: %(ref)s.")
MSG_CLOSED = N_("This job is closed.")
MSG_APPLY = N_("Apply")
MSG_NAME = N_("Your full name:")
MSG_NAME_HINT = N_("Type your name, 2-60 letters.")
MSG_START = N_("When can you start?")
MSG_SKILLS = N_("Your skills or work done before:")
MSG_SKIP = N_("Skip")
MSG_SKILLS_HINT = N_("Up to 100 characters, or 1 to skip.")
MSG_CONFIRM = N_("Send application?")
MSG_SUMMARY = N_("%(title)s. Name: %(name)s. Start: %(start)s. Skills: %(skills)s.")
MSG_SEND = N_("Send application")
MSG_SENT = N_("Application %(ref)s sent. We sent you a receipt by SMS.")
MSG_NOT_SENT = N_("Sorry, this job has closed. Your application was not sent.")

#: Characters of a title in a list label: the label must fit a Chinese screen.
LABEL_TITLE = 24
SKIP = "1"
#: The nearest jobs listed (kept in the session as the list was shown): nine
#: screens of a list is more than anyone pages through on a keypad.
MAX_LISTED = 45
SHOWN = "jobs_shown"


def _home_area(ctx: Context) -> int | None:
    def find() -> int | None:
        return ctx.db.scalar(select(Subscriber.area_id).where(Subscriber.id == ctx.subscriber_id))

    return ctx.memo("job_home_area", find)  # type: ignore[no-any-return]


def enter(ctx: Context) -> None:
    """Effect of the main menu's entry: list the jobs open now (afresh)."""
    ctx.data.pop(SHOWN, None)


def _open_jobs(ctx: Context) -> Sequence[tuple[int, str]]:
    """The jobs listed, as they were when the caller came in from the main menu:
    item *n* stays the job the caller saw as *n* (one that closed since says so
    on its screen), however the board changed meanwhile."""

    def load() -> list[tuple[int, str]]:
        if SHOWN in ctx.data:
            found = {
                j.id: j for j in ctx.db.scalars(select(Job).where(Job.id.in_(ctx.data[SHOWN])))
            }
            listed = [found[i] for i in ctx.data[SHOWN] if i in found]
        else:
            listed = jobs.open_jobs_near(ctx.db, _home_area(ctx), utcnow())[:MAX_LISTED]
            ctx.data[SHOWN] = [j.id for j in listed]
        out = []
        for job in listed:
            title = _shorten(jobs.title_for(job, ctx.language), LABEL_TITLE)
            place = jobs.place_of(ctx.db, job)
            out.append((job.id, f"{title}, {place}, {jobs.wage_text(job, ctx.language)}"))
        return out

    return ctx.memo("jobs_near", load)  # type: ignore[no-any-return]


def _shorten(text: str, most: int) -> str:
    """``text`` cut to ``most`` characters, at a word's end when it has spaces."""
    if len(text) <= most:
        return text
    cut = text[:most]
    return cut.rsplit(" ", 1)[0] if " " in cut else cut


def _job(ctx: Context) -> Job | None:
    return ctx.db.get(Job, ctx.data.get("job", 0))


def _applied(ctx: Context) -> JobApplication | None:
    def find() -> JobApplication | None:
        job = _job(ctx)
        return None if job is None else job_applications.application_of(ctx.db, job.id, ctx.msisdn)

    return ctx.memo(("job_applied", ctx.data.get("job")), find)  # type: ignore[no-any-return]


def _is_open(ctx: Context) -> bool:
    job = _job(ctx)
    return job is not None and bool(
        ctx.memo(("job_open", job.id), lambda: jobs.is_open(ctx.db, job, utcnow()))
    )


def _can_apply(ctx: Context) -> bool:
    return _is_open(ctx) and _applied(ctx) is None


def _title(ctx: Context) -> str:
    job = _job(ctx)
    return jobs.title_for(job, ctx.language) if job is not None else ctx.gettext(MSG_CLOSED)


def _details(ctx: Context) -> str:
    job, _ = _job(ctx), ctx.gettext
    if job is None:
        return ""
    lines = []
    applied = _applied(ctx)
    if applied is not None:
        lines.append(_(MSG_APPLIED) % {"ref": job_applications.reference(applied)})
    elif not _is_open(ctx):
        lines.append(_(MSG_CLOSED))
    lines.append(
        _(MSG_DETAILS)
        % {
            "employer": job.employer,
            "place": jobs.place_of(ctx.db, job),
            "wage": jobs.wage_text(job, ctx.language),
            "slots": job.slots,
            "closes": jobs.closes_text(job, ctx.language),
        }
    )
    needs = jobs.requirements_for(job, ctx.language)
    if needs:
        lines.append(_(MSG_NEEDS) % {"requirements": needs})
    return "\n".join(lines)


def _take_name(ctx: Context, text: str) -> Outcome:
    name = job_applications.valid_name(text)
    if name is None:
        return Outcome(error=ctx.gettext(MSG_NAME_HINT))
    ctx.data["job_name"] = name
    return Outcome(leave=True)


def _take_skills(ctx: Context, text: str) -> Outcome:
    skills = "" if text == SKIP else job_applications.clean_text(text)
    if text != SKIP and not 1 <= len(skills) <= 100:
        return Outcome(error=ctx.gettext(MSG_SKILLS_HINT))
    ctx.data["job_skills"] = skills
    return Outcome(leave=True)


def _skip_line(ctx: Context) -> tuple[str, ...]:
    return (f"{SKIP} {ctx.gettext(MSG_SKIP)}",)


def _start(value: str) -> Effect:
    def effect(ctx: Context) -> None:
        ctx.data["job_start"] = value

    effect.__name__ = f"start_{value}"
    return effect


def _summary(ctx: Context) -> str:
    _ = ctx.gettext
    start = job_applications.STARTS.get(ctx.data.get("job_start", ""), "")
    closed = "" if _is_open(ctx) else _(MSG_CLOSED) + "\n"
    return closed + _(MSG_SUMMARY) % {
        "title": _title(ctx),
        "name": ctx.data.get("job_name", ""),
        "start": _(start) if start else "",
        "skills": ctx.data.get("job_skills") or _(job_applications.MSG_NO_SKILLS),
    }


def _send(ctx: Context) -> None:
    ctx.run(_store_application)


def _store_application(ctx: Context) -> None:
    """Apply, and enqueue the SMS still to send (the first copy of a callback
    queues them; a later one finds them queued under the same keys)."""
    from workers import SMS, enqueue
    from workers.sms import send_sms

    job = _job(ctx)
    if job is None:
        return
    try:
        applied = job_applications.apply(
            ctx.db,
            job,
            msisdn=ctx.msisdn,
            name=ctx.data.get("job_name", ""),
            start=ctx.data.get("job_start", ""),
            skills=ctx.data.get("job_skills", ""),
            language=ctx.language,
            now=utcnow(),
        )
    except jobs.JobError:  # closed since the list was shown: the last screen says so
        ctx.db.rollback()
        return
    ctx.cache.pop(("job_applied", job.id), None)
    for sms_id in applied.sms:
        enqueue(SMS, send_sms, sms_id)


def _done(ctx: Context) -> str:
    applied = _applied(ctx)
    if applied is None:
        return ctx.gettext(MSG_NOT_SENT)
    return ctx.gettext(MSG_SENT) % {"ref": job_applications.reference(applied)}


MENU = Menu(
    name="jobs",
    states=[
        State(
            "list",
            MSG_NEAR,
            items=Items(_open_jobs, key="job", dest="details"),
            back="main:home",
            empty=MSG_NONE,
        ),
        State(
            "details",
            _title,
            body=_details,
            options=(Option("1", MSG_APPLY, "name", when=_can_apply),),
            back="list",
        ),
        State(
            "name",
            MSG_NAME,
            input=Input(_take_name, dest="start", hints=translated(MSG_NAME_HINT)),
            back="details",
        ),
        State(
            "start",
            MSG_START,
            options=tuple(
                Option(str(i), label, "skills", _start(value))
                for i, (value, label) in enumerate(job_applications.STARTS.items(), 1)
            ),
            back="name",
        ),
        State(
            "skills",
            MSG_SKILLS,
            lines=_skip_line,
            input=Input(_take_skills, dest="confirm", hints=translated(MSG_SKILLS_HINT)),
            back="start",
        ),
        State(
            "confirm",
            MSG_CONFIRM,
            body=_summary,
            options=(Option("1", MSG_SEND, "done", _send, when=_is_open),),
            back="skills",
        ),
        State("done", MSG_TITLE, body=_done, final=True),
    ],
)
