"""Demo data: administrative areas and real content, from ``demo/*.yaml``.

Loading is idempotent: rows are matched by name or slug and updated, so
``flask demo load`` can run on every start.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select, update
from sqlalchemy.orm import Session, aliased

from domain import content as content_cache
from domain import eligibility, sms_templates
from domain.cadres import add_cadre
from domain.console_users import create_user, find_user
from domain.phone import normalise_msisdn
from domain.surveys import open_round, store_definition
from domain.xlsform import read_xlsform
from models import (
    Area,
    AreaLevel,
    Article,
    ArticleTranslation,
    CadreRole,
    Category,
    CategoryTranslation,
    ConsoleRole,
    MessageTemplate,
    Topic,
)
from models.base import utcnow

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"
#: Who made a change the demo loader made (an article revision's ``username``).
DEMO_ACTOR = "demo data"
SURVEYS_DIR = Path(__file__).resolve().parent.parent / "surveys"


def load_areas(db: Session, path: Path = DEMO_DIR / "areas.yaml") -> int:
    """Upsert province → county → village from ``path``; return the number of areas."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    country = doc["country"]
    count = 0

    def upsert(name: str, level: AreaLevel, parent: Area | None) -> Area:
        nonlocal count
        count += 1
        parent_id = parent.id if parent else None
        area = db.scalar(
            select(Area).where(
                Area.name == name,
                Area.parent_id.is_(parent_id) if parent_id is None else Area.parent_id == parent_id,
            )
        )
        if area is None:
            area = Area(name=name, level=level, parent_id=parent_id, country=country)
            db.add(area)
            db.flush()
        return area

    for prov in doc["provinces"]:
        p = upsert(prov["name"], AreaLevel.PROVINCE, None)
        for county in prov["counties"]:
            c = upsert(county["name"], AreaLevel.COUNTY, p)
            for village in county["villages"]:
                upsert(village, AreaLevel.VILLAGE, c)
    db.commit()
    return count


def load_content(db: Session, path: Path = DEMO_DIR / "content.yaml") -> int:
    """Upsert categories and articles with all their translations; return the
    number of articles. An article last changed in the console is left as it
    is (``make run`` loads the demo at every start). Raises ``KeyError`` on a
    malformed file."""
    doc: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    n_articles = 0
    for topic_name, cats in doc.items():
        topic = Topic(topic_name)
        for cpos, cat in enumerate(cats):
            category = db.scalar(
                select(Category).where(Category.topic == topic, Category.slug == cat["slug"])
            )
            if category is None:
                category = Category(topic=topic, slug=cat["slug"])
                db.add(category)
            category.position = cpos
            _set_translations(category.translations, CategoryTranslation, {"name": cat["name"]})
            for apos, art in enumerate(cat["articles"]):
                article = next((a for a in category.articles if a.slug == art["slug"]), None)
                if article is None:
                    article = Article(slug=art["slug"])
                    category.articles.append(article)
                elif _changed_in_the_console(db, article):
                    n_articles += 1  # someone's edit outranks the demo file
                    continue
                article.position = apos
                article.published = True
                article.source = art.get("source", "")
                article.eligibility = art.get("eligibility")
                if article.eligibility is not None:
                    eligibility.validate(article.eligibility)
                _set_translations(
                    article.translations,
                    ArticleTranslation,
                    {"title": art["title"], "body": art["body"]},
                )
                _record_revision(db, article)
                n_articles += 1
    db.commit()
    content_cache.clear_cache()
    return n_articles


def _changed_in_the_console(db: Session, article: Article) -> bool:
    """Whether the article's latest revision was made by a console user (not by
    this loader): loading the demo again leaves such an article alone."""
    from domain import content_admin

    latest = content_admin.latest_revision(db, article.id)
    return latest is not None and latest.user_id is not None


def _record_revision(db: Session, article: Article) -> None:
    """Revision 1 (``created``) for a new article, so its history is never
    empty; an ``edited`` one when the file changed it since the last revision;
    none when loading again changed nothing."""
    from domain import content_admin

    db.flush()
    latest = content_admin.latest_revision(db, article.id)
    now = content_admin.snapshot(article)
    if latest is None:
        action = content_admin.CREATED
    elif latest.snapshot == now:
        return
    elif {**latest.snapshot, "published": now["published"]} == now:
        action = content_admin.PUBLISHED if now["published"] else content_admin.UNPUBLISHED
    else:
        action = content_admin.EDITED
    article.updated_at = utcnow()
    content_admin.record(db, article, action, None, utcnow(), actor=DEMO_ACTOR)


def _set_translations(existing: list[Any], cls: type, fields: dict[str, dict[str, str]]) -> None:
    languages = next(iter(fields.values())).keys()
    by_lang = {t.language: t for t in existing}
    for lang in languages:
        row = by_lang.get(lang)
        if row is None:
            row = cls(language=lang)
            existing.append(row)
        for field, texts in fields.items():
            setattr(row, field, texts[lang].strip())


def load_surveys(db: Session, directory: Path = SURVEYS_DIR) -> int:
    """Store every XLSForm in ``surveys/`` (each version once); return how many
    forms. Raises ``FormError`` for a form this service cannot run."""
    paths = sorted(directory.glob("*.xlsx"))
    for path in paths:
        store_definition(db, read_xlsform(path))
    db.commit()
    return len(paths)


def load_templates(db: Session, path: Path = DEMO_DIR / "templates.yaml") -> int:
    """Upsert the demo SMS templates (approved) by slug; return how many. Raises
    ``ValueError`` for a text or rule that does not check (``TemplateError``,
    ``RuleError``)."""
    doc: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    for item in doc["templates"]:
        variables = {k: str(v) for k, v in (item.get("variables") or {}).items()}
        for text in item["messages"].values():
            sms_templates.validate(text, variables)
        if item.get("eligibility") is not None:
            eligibility.validate(item["eligibility"])
        row = db.scalars(
            select(MessageTemplate).where(MessageTemplate.slug == item["slug"])
        ).first()
        if row is None:
            row = MessageTemplate(slug=item["slug"])
            db.add(row)
        row.topic = item.get("topic")
        row.messages = dict(item["messages"])
        row.titles = dict(item["titles"])
        row.variables = variables
        row.eligibility = item.get("eligibility")
        row.approved = True
    db.commit()
    return len(doc["templates"])


#: Demo villagers' numbers: +254 711 9xx xxx, a block no real subscriber is given here.
DEMO_SUBSCRIBER_PREFIX = "+254711"


def add_subscribers(db: Session, count: int, *, seed: int = 2026) -> int:
    """Create ``count`` demo villagers (numbers ``+2547119…``) spread over the demo
    villages and the four languages, a third of them subscribed to a topic, so
    campaigns have an audience to preview and send to. Idempotent by number;
    returns how many are new. Raises ``ValueError`` for a count outside
    1-99,999. Commits."""
    import random

    from domain.subscribers import TOPICS, get_or_create_subscriber, set_home_area, set_topic
    from domain.translation import LANGUAGES
    from models import Subscriber

    if not 1 <= count <= 99_999:
        raise ValueError("between 1 and 99,999 demo subscribers")
    villages = list(db.scalars(select(Area.id).where(Area.level == AreaLevel.VILLAGE)))
    if not villages:
        raise ValueError("no villages: load the demo areas first")
    rng = random.Random(seed)
    known = set(
        db.scalars(
            select(Subscriber.msisdn).where(Subscriber.msisdn.like(f"{DEMO_SUBSCRIBER_PREFIX}9%"))
        )
    )
    new = 0
    for i in range(count):
        msisdn = f"{DEMO_SUBSCRIBER_PREFIX}9{i:05d}"
        if msisdn in known:
            continue
        sid, _ = get_or_create_subscriber(db, msisdn)
        set_home_area(db, msisdn, rng.choice(villages))
        db.execute(
            update(Subscriber).where(Subscriber.id == sid).values(language=rng.choice(LANGUAGES))
        )
        if rng.random() < 1 / 3:
            set_topic(db, sid, rng.choice(TOPICS), True)
        new += 1
    db.commit()
    return new


def load_staff(db: Session, path: Path = DEMO_DIR / "staff.yaml") -> int:
    """Open the demo survey round and create (or update) the demo cadres; return
    the number of cadres. Raises ``CadreError``."""
    doc: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    open_round(db, str(doc["round"]))
    for cadre in doc["cadres"]:
        add_cadre(
            db,
            msisdn=cadre["msisdn"],
            name=cadre["name"],
            pin=str(cadre["pin"]),
            villages=cadre["villages"],
            role=CadreRole(cadre.get("role", "cadre")),
        )
    db.commit()
    return len(doc["cadres"])


def load_console_users(db: Session, path: Path = DEMO_DIR / "console.yaml") -> int:
    """Create the demo console users that do not exist yet (an existing one is
    left as it is, its password included); return how many the file holds.
    Demo only: their passwords are public. Raises ``ConsoleUserError``."""
    from domain import content_admin

    doc: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    for org in doc.get("organisations") or []:
        organisation = content_admin.find_organisation(db, org["name"])
        if organisation is None:
            organisation = content_admin.add_organisation(db, org["name"])
        for spec in org.get("articles") or []:
            _give_article(db, spec, organisation.id)
    for user in doc["users"]:
        if find_user(db, user["username"]) is None:
            org_name = user.get("organisation")
            create_user(
                db,
                username=user["username"],
                name=user["name"],
                password=str(user["password"]),
                role=ConsoleRole(user["role"]),
                organisation=content_admin.find_organisation(db, org_name) if org_name else None,
            )
    db.commit()
    return len(doc["users"])


def _give_article(db: Session, spec: str, organisation_id: int) -> None:
    """Make the article ``topic/category/slug`` the organisation's, when it is
    still the service's (once given, it stays where the console put it)."""
    from domain import content_admin

    topic, category_slug, slug = spec.split("/")
    article = db.scalars(
        select(Article)
        .join(Category)
        .where(Category.topic == Topic(topic), Category.slug == category_slug, Article.slug == slug)
    ).first()
    if article is None:
        raise LookupError(f"demo article {spec!r} is not in demo/content.yaml")
    if article.organisation_id is None:
        article.organisation_id = organisation_id
        article.updated_at = utcnow()
        content_admin.record(db, article, content_admin.EDITED, None, utcnow(), actor=DEMO_ACTOR)


def load_jobs(db: Session, now: datetime, path: Path = DEMO_DIR / "jobs.yaml") -> int:
    """Post the demo jobs, or update them, matched by area, employer and English
    title (loading twice adds nothing); return how many. Each closes
    ``closes_in_days`` after the day ``now`` (aware) is in its area, so the demo
    jobs stay open however late the demo is loaded. Raises ``JobError`` for a
    job that does not check, ``LookupError`` for an unknown ``County/Village``."""
    from domain import jobs
    from domain.market import local_currency
    from models import Job

    doc: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    county = aliased(Area)
    for item in doc["jobs"]:
        county_name, _, village_name = item["area"].partition("/")
        area = db.scalars(
            select(Area)
            .join(county, county.id == Area.parent_id)
            .where(county.name == county_name, Area.name == village_name)
        ).first()
        if area is None:
            raise LookupError(f"demo job area {item['area']!r} is not a demo area")
        closes_on = jobs.local_today(area.timezone, now) + timedelta(days=item["closes_in_days"])
        fields: dict[str, Any] = {
            "titles": dict(item["titles"]),
            "requirements": dict(item.get("requirements") or {}),
            "employer": item["employer"],
            "contact": item["contact"],
            "area_id": area.id,
            "wage": str(item["wage"]),
            "wage_period": item["per"],
            "currency": local_currency(area.country),
            "slots": int(item["slots"]),
            "closes_on": closes_on,
        }
        job = next(
            (
                j
                for j in db.scalars(
                    select(Job).where(Job.area_id == area.id, Job.employer == item["employer"])
                )
                if j.titles.get("en") == item["titles"]["en"]
            ),
            None,
        )
        if job is None:
            jobs.add_job(db, now=now, **fields)  # checks every field
            continue
        # Loaded before: keep that row (and its applications), updated.
        job.titles, job.requirements = fields["titles"], fields["requirements"]
        job.wage, job.wage_period = Decimal(fields["wage"]), fields["wage_period"]
        job.currency, job.slots, job.closes_on = fields["currency"], fields["slots"], closes_on
        job.contact_msisdn = normalise_msisdn(item["contact"])
    db.commit()
    return len(doc["jobs"])
