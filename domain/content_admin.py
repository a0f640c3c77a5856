"""Managing articles (the console's Content pages): write, translate, publish.

Every change is kept as an ``ArticleRevision`` numbered from 1 with a snapshot
of the article as it stood after it (``snapshot``). The newest revision number
is the article's version: an edit says which revision it was made against, and
one made against an older one is refused (``Conflict``) rather than overwrite
what someone else saved meanwhile. Two saves racing past that check both try to
write the same revision number; the table's unique ``(article_id, number)``
lets one win.

Who may do what (``may_read``, ``may_change``): admins and operators manage
every article; an editor only their organisation's (and what they create is
their organisation's); a supervisor reads every article and changes none.

The functions commit, then clear this process's content cache (``domain.content``);
other processes see a change within ``CONTENT_CACHE_SECONDS``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain import content
from domain.sms_encoding import Segments, analyse
from domain.translation import LANGUAGES, gettext_for

# The USSD engine paginates the article screen: the counts shown to editors are
# its own, not a copy of its rules (the one place the domain reads ``menus``).
from menus import content as content_menu
from menus.context import Context
from menus.engine import Engine
from menus.menu import Menu
from menus.screen import Limits
from menus.session import SessionState
from models import (
    Article,
    ArticleRevision,
    ArticleTranslation,
    Category,
    ConsoleRole,
    ConsoleUser,
    Organisation,
)

#: Column sizes (``models/content.py``): a title is ``String(120)``, a slug
#: ``String(64)``, a source ``String(255)``, an organisation's name ``String(80)``.
MAX_TITLE = 120
MAX_SLUG = 64
MAX_SOURCE = 255
MAX_ORGANISATION = 80
#: The body is ``Text`` (no limit); this cap keeps an article readable by phone:
#: about 10 GSM-7 SMS parts, or a dozen USSD screens.
MAX_BODY = 1600
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MANAGERS = frozenset({ConsoleRole.ADMIN, ConsoleRole.OPERATOR})
CREATED, EDITED, PUBLISHED, UNPUBLISHED = "created", "edited", "published", "unpublished"


class ContentError(ValueError):
    """A change refused; ``problems`` maps a form field (``title_sw``, ``slug``,
    or ``""`` for the whole article) to what is wrong with it, in plain words."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(self.problems.values()))


class NotAllowed(ContentError):
    """The user may not change this article (``may_change``)."""


class Conflict(ContentError):
    """The article changed since the revision the edit was made against."""

    def __init__(self, latest: ArticleRevision) -> None:
        self.latest = latest
        who = latest.username or "someone"
        super().__init__(
            {
                "": f"Someone else changed this article while you were editing it "
                f"(revision {latest.number}, {latest.action} by {who} at "
                f"{latest.created_at:%Y-%m-%d %H:%M} UTC). Your text is below but was "
                "not saved: compare it with the current version, then save again."
            }
        )


@dataclass(frozen=True)
class Draft:
    """What a form gives for an article: ``texts`` maps a language to
    ``(title, body)``; a language left out, or with both empty, has no text of
    its own (its callers read English)."""

    category_id: int
    slug: str
    source: str = ""
    texts: Mapping[str, tuple[str, str]] = field(default_factory=dict)


# -- who may do what ---------------------------------------------------------------------


def may_read(user: ConsoleUser, article: Article) -> bool:
    """Every role reads every article but an editor, who reads their organisation's."""
    if user.role is ConsoleRole.EDITOR:
        return user.organisation_id is not None and article.organisation_id == user.organisation_id
    return True


def may_change(user: ConsoleUser | None, article: Article | None = None) -> bool:
    """Whether ``user`` may edit, publish or unpublish ``article`` (None: create
    one). ``user`` None is the system (the demo loader, a command)."""
    if user is None or user.role in MANAGERS:
        return True
    if user.role is ConsoleRole.EDITOR and user.organisation_id is not None:
        return article is None or article.organisation_id == user.organisation_id
    return False


def _require(user: ConsoleUser | None, article: Article | None) -> None:
    if not may_change(user, article):
        raise NotAllowed({"": "You may read this article but not change it."})


# -- checking what was typed ---------------------------------------------------------------


def clean_text(text: str, *, multiline: bool) -> str:
    """``text`` in NFC, without control characters (a pasted ``\\x00`` or
    ``\\x1b`` would reach handsets), runs of spaces folded, trimmed. A
    ``multiline`` text keeps its line breaks (``\\r\\n`` becomes ``\\n``, at most
    one blank line in a row); otherwise they become spaces."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    keep = "\n" if multiline else ""
    text = "".join(
        " " if ch in "\t\n" and ch not in keep else ch
        for ch in text
        if ch in "\t\n" or unicodedata.category(ch) != "Cc"
    )
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def check_draft(db: Session, draft: Draft, article: Article | None = None) -> Draft:
    """``draft`` cleaned (``clean_text``), or ``ContentError`` listing every
    problem: an unknown category, a slug that is not ``a-z 0-9 -`` (1 to 64) or
    is taken in the category, a source over 255 characters, English missing,
    a title over 120 or a body over 1600 characters, a title without a body or
    the reverse, an unknown language."""
    problems: dict[str, str] = {}
    slug = draft.slug.strip().lower()
    source = clean_text(draft.source, multiline=False)
    category = db.get(Category, draft.category_id)
    if category is None:
        problems["category"] = "Choose a category."
    if not (SLUG.fullmatch(slug) and len(slug) <= MAX_SLUG):
        problems["slug"] = "A slug is 1 to 64 of a-z, 0-9 and single hyphens, like safe-water."
    elif category is not None:
        taken = db.scalar(
            select(Article.id).where(Article.category_id == category.id, Article.slug == slug)
        )
        if taken is not None and (article is None or taken != article.id):
            problems["slug"] = f"The category already has an article {slug!r}."
    if len(source) > MAX_SOURCE:
        problems["source"] = f"The source is at most {MAX_SOURCE} characters."
    texts: dict[str, tuple[str, str]] = {}
    for language, (title, body) in draft.texts.items():
        if language not in LANGUAGES:
            problems[""] = f"Unknown language {language!r}."
            continue
        title, body = clean_text(title, multiline=False), clean_text(body, multiline=True)
        if len(title) > MAX_TITLE:
            problems[f"title_{language}"] = f"A title is at most {MAX_TITLE} characters."
        if len(body) > MAX_BODY:
            problems[f"body_{language}"] = (
                f"A text is at most {MAX_BODY} characters (this one has {len(body)})."
            )
        if title and not body:
            problems[f"body_{language}"] = "Write the text too, or clear the title."
        elif body and not title:
            problems[f"title_{language}"] = "Give the text a title too, or clear it."
        if title or body:
            texts[language] = (title, body)
    if "en" not in texts:
        problems.setdefault("title_en", "English is required: a title and a text.")
    if problems:
        raise ContentError(problems)
    return Draft(draft.category_id, slug, source, texts)


# -- changes -------------------------------------------------------------------------------


def snapshot(article: Article) -> dict[str, Any]:
    """The article's fields and every translation, as a revision keeps them:
    ``{"category_id", "slug", "position", "published", "source", "eligibility",
    "organisation_id", "translations": {language: {"title", "body"}}}``."""
    return {
        "category_id": article.category_id,
        "slug": article.slug,
        "position": article.position,
        "published": bool(article.published),
        "source": article.source or "",
        "eligibility": article.eligibility,
        "organisation_id": article.organisation_id,
        "translations": {
            t.language: {"title": t.title, "body": t.body}
            for t in sorted(article.translations, key=lambda t: _order(t.language))
        },
    }


def latest_revision(db: Session, article_id: int) -> ArticleRevision | None:
    return db.scalars(
        select(ArticleRevision)
        .where(ArticleRevision.article_id == article_id)
        .order_by(ArticleRevision.number.desc())
        .limit(1)
    ).first()


def record(
    db: Session,
    article: Article,
    action: str,
    user: ConsoleUser | None,
    now: datetime,
    *,
    actor: str = "",
    number: int | None = None,
) -> ArticleRevision:
    """Add the article's revision ``number`` (default: the next) with its
    snapshot now, and flush. ``actor`` names who did it when ``user`` is None
    (``"demo data"``). Raises ``Conflict`` when another revision took the
    number first. Does not commit."""
    db.flush()
    if number is None:
        number = (
            db.scalar(
                select(func.max(ArticleRevision.number)).where(
                    ArticleRevision.article_id == article.id
                )
            )
            or 0
        ) + 1
    revision = ArticleRevision(
        article_id=article.id,
        number=number,
        action=action,
        user_id=user.id if user is not None else None,
        username=user.username if user is not None else actor[:40],
        snapshot=snapshot(article),
        created_at=now,
    )
    try:
        with db.begin_nested():
            db.add(revision)
    except IntegrityError:
        found = latest_revision(db, article.id)
        assert found is not None
        raise Conflict(found) from None
    return revision


def create_article(
    db: Session, user: ConsoleUser | None, draft: Draft, now: datetime
) -> tuple[Article, ArticleRevision]:
    """A new, unpublished article at the end of its category, with revision 1
    (``created``). An editor's article is their organisation's. Raises
    ``ContentError`` (``check_draft``) or ``NotAllowed``. Commits."""
    _require(user, None)
    clean = check_draft(db, draft)
    position = db.scalar(
        select(func.coalesce(func.max(Article.position), -1) + 1).where(
            Article.category_id == clean.category_id
        )
    )
    article = Article(
        category_id=clean.category_id,
        slug=clean.slug,
        source=clean.source,
        position=position or 0,
        published=False,
        organisation_id=user.organisation_id if user is not None else None,
        updated_at=now,
    )
    db.add(article)
    _set_texts(article, clean.texts)
    revision = record(db, article, CREATED, user, now)
    db.commit()
    return article, revision


def edit_article(
    db: Session,
    user: ConsoleUser | None,
    article: Article,
    draft: Draft,
    base_revision: int,
    now: datetime,
) -> ArticleRevision | None:
    """Save ``draft`` over ``article``, made against revision ``base_revision``;
    the new revision (``edited``), or None when nothing changed. A language
    left empty loses its text (its callers read English). A published article
    changes on USSD at once in this process. Raises ``NotAllowed``,
    ``ContentError`` or ``Conflict`` (nothing saved). Commits."""
    _require(user, article)
    clean = check_draft(db, draft, article)
    _check_base(db, article, base_revision)
    before = snapshot(article)
    article.category_id, article.slug, article.source = (
        clean.category_id,
        clean.slug,
        clean.source,
    )
    _set_texts(article, clean.texts)
    if snapshot(article) == before:
        db.rollback()
        return None
    article.updated_at = now
    # The number the edit was made for: if another save took it meanwhile (after
    # the check above), the unique constraint refuses this one.
    revision = record(db, article, EDITED, user, now, number=base_revision + 1)
    _commit(db)
    return revision


def set_published(
    db: Session,
    user: ConsoleUser | None,
    article: Article,
    published: bool,
    now: datetime,
    base_revision: int | None = None,
) -> ArticleRevision | None:
    """Publish (callers see it on USSD) or unpublish (it disappears from the
    lists; a caller on its screen gets "no longer available"). None when it
    already was. ``base_revision`` given: refuse (``Conflict``) if the article
    changed since, so nobody publishes a text they have not seen. Raises
    ``NotAllowed``. Commits and clears the content cache."""
    _require(user, article)
    if base_revision is not None:
        _check_base(db, article, base_revision)
    if bool(article.published) == published:
        return None
    article.published, article.updated_at = published, now
    action = PUBLISHED if published else UNPUBLISHED
    number = None if base_revision is None else base_revision + 1
    revision = record(db, article, action, user, now, number=number)
    _commit(db)
    return revision


def _check_base(db: Session, article: Article, base_revision: int) -> None:
    latest = latest_revision(db, article.id)
    if (latest.number if latest is not None else 0) == base_revision:
        return
    db.rollback()
    if latest is None:
        raise ContentError({"": "This form does not match the article: reload the page."})
    raise Conflict(latest)


def _commit(db: Session) -> None:
    db.commit()
    # After the commit: cleared before, a USSD read in between would cache the old text.
    content.clear_cache()


def _set_texts(article: Article, texts: Mapping[str, tuple[str, str]]) -> None:
    by_lang = {t.language: t for t in article.translations}
    for language, old in by_lang.items():
        if language not in texts:
            article.translations.remove(old)
    for language, (title, body) in texts.items():
        row = by_lang.get(language)
        if row is None:
            article.translations.append(
                ArticleTranslation(language=language, title=title, body=body)
            )
        else:
            row.title, row.body = title, body


def _order(language: str) -> int:
    return LANGUAGES.index(language) if language in LANGUAGES else len(LANGUAGES)


# -- organisations -------------------------------------------------------------------------


def add_organisation(db: Session, name: str) -> Organisation:
    """A new organisation (an NGO, a government office). Raises ``ContentError``
    for an empty name, one over 80 characters, or one taken (compared without
    case). Does not commit."""
    name = clean_text(name, multiline=False)
    if not 1 <= len(name) <= MAX_ORGANISATION:
        raise ContentError({"name": f"A name is 1 to {MAX_ORGANISATION} characters."})
    if find_organisation(db, name) is not None:
        raise ContentError({"name": f"There is already an organisation {name!r}."})
    organisation = Organisation(name=name)
    db.add(organisation)
    db.flush()
    return organisation


def find_organisation(db: Session, name: str) -> Organisation | None:
    """The organisation of that name, compared without case; None if none."""
    wanted = clean_text(name, multiline=False).casefold()
    return next(
        (o for o in db.scalars(select(Organisation)) if o.name.casefold() == wanted),
        None,
    )


# -- how it reads on a phone ---------------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    """How one language's text of an article reaches a phone.

    ``screens``: USSD screens of the article's page, navigation included (the
    ``98 More`` pages a caller walks through), paginated by the USSD engine
    itself. ``sms``: what "Send me this by SMS" sends (title, a line break,
    the body), as ``domain.sms_encoding.analyse`` counts it: encoding, units,
    parts, and a warning when a few characters make it UCS-2. ``fallback``:
    the language has no text of its own, so its callers get English (the
    figures are for that, with the language's own navigation words).
    """

    language: str
    fallback: bool
    screens: int
    sms: Segments


def measure(
    texts: Mapping[str, tuple[str, str]], *, limits: Limits, fold_to_gsm7: bool
) -> dict[str, Fit]:
    """``Fit`` per language of ``LANGUAGES`` for an article's ``texts``
    (language → (title, body), as typed or as stored); a language without a
    text is measured with the English one (``domain.content``'s fallback).
    ``limits`` and ``fold_to_gsm7`` are the USSD engine's (``USSD_GSM7_LIMIT``,
    ``USSD_UCS2_LIMIT``, ``USSD_GSM7_FOLD``). Empty when English is empty."""
    english = texts.get("en")
    if not english or not (english[0] or english[1]):
        return {}
    engine = Engine(
        {"content": _preview_menu()},
        limits=limits,
        default_language="en",
        fold_to_gsm7=fold_to_gsm7,
    )
    out: dict[str, Fit] = {}
    for language in LANGUAGES:
        own = texts.get(language)
        fallback = not own or not (own[0] or own[1])
        title, body = english if fallback or own is None else own
        out[language] = Fit(
            language, fallback, _screens(engine, language, title, body), analyse(f"{title}\n{body}")
        )
    return out


def _screens(engine: Engine, language: str, title: str, body: str) -> int:
    state = SessionState("", 0, language, "content", "article")
    ctx = Context(
        session_id="",
        msisdn="",
        subscriber_id=0,
        language=language,
        db=None,  # type: ignore[arg-type]  # the preview's texts come from ``data``
        gettext=gettext_for(language),
        data={"title": title, "body": body},
    )
    return len(engine.pages(state, ctx))


@functools.cache
def _preview_menu() -> Menu:
    """The USSD content menu with its article screen reading the title and body
    from the session's data instead of the database: everything else (options,
    navigation, banners the pages keep room for) is the real screen's."""
    real = content_menu.MENU
    article = replace(
        real.by_name["article"],
        title=lambda ctx: str(ctx.data["title"]),
        body=lambda ctx: str(ctx.data["body"]),
    )
    states = [article if s.name == "article" else s for s in real.states]
    return Menu(name=real.name, states=states, roots=real.roots)
