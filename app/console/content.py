"""``/console/content``: what villagers read and hear, written, translated and
published from the browser.

The pages call ``domain.content_admin``: it checks what was typed, writes a
revision for every change, refuses an edit made against an old revision, and
says who may change what. Editors see their organisation's articles only
(another's is ``404``); supervisors read every article and change none
(``403``). The guard in ``auth.py`` keeps editors to these pages.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.console import bp
from app.console.auth import current_console_user
from app.console.content_form import LANGUAGE_NAMES, TOPIC_NAMES, ArticleForm
from app.db import db_session
from domain import content_admin
from domain.content_admin import Conflict, ContentError, NotAllowed, measure
from domain.translation import LANGUAGES
from models import (
    Article,
    ArticleRevision,
    Category,
    CategoryTranslation,
    ConsoleRole,
    ConsoleUser,
    Organisation,
)
from models.base import utcnow

#: The largest form the live counter measures (four titles and texts, with room).
MAX_COUNT_REQUEST = 16_000


def _article(article_id: int) -> Article:
    """The article, when the user may read it; 404 otherwise (an editor is not
    told another organisation's article exists)."""
    article = db_session().get(Article, article_id)
    if article is None or not content_admin.may_read(current_console_user(), article):
        abort(404)
    return article


def _forbidden(message: str) -> ResponseReturnValue:
    return render_template("console/error.html", title="Not allowed", message=message), 403


def _fits(texts: dict[str, tuple[str, str]]) -> dict[str, content_admin.Fit]:
    engine = current_app.extensions["ngazi_ussd_engine"]
    return measure(texts, limits=engine.limits, fold_to_gsm7=engine.fold_to_gsm7)


def _latest_number(db: Session, article_id: int) -> int:
    latest = content_admin.latest_revision(db, article_id)
    return latest.number if latest is not None else 0


# -- list -----------------------------------------------------------------------------------


@bp.get("/content")
def content_list() -> ResponseReturnValue:
    """Articles by topic and category: title, status, organisation, languages
    with their own text, last change. An editor's list holds their
    organisation's articles only."""
    db = db_session()
    user = current_console_user()
    query = select(Article).join(Category).order_by(Category.position, Article.position, Article.id)
    if user.role is ConsoleRole.EDITOR:
        query = query.where(Article.organisation_id == (user.organisation_id or -1))
    articles = db.scalars(query).all()
    names: dict[int, str] = {
        row.category_id: row.name
        for row in db.execute(
            select(CategoryTranslation.category_id, CategoryTranslation.name).where(
                CategoryTranslation.language == "en"
            )
        )
    }
    orgs: dict[int, str] = {
        row.id: row.name for row in db.execute(select(Organisation.id, Organisation.name))
    }
    latest = _latest_revisions(db, [a.id for a in articles])
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {name: {} for name in TOPIC_NAMES.values()}
    for article in articles:
        by_lang = {t.language: t for t in article.translations}
        english = by_lang.get("en")
        revision = latest.get(article.id)
        groups[TOPIC_NAMES[article.category.topic]].setdefault(
            names.get(article.category_id, article.category.slug), []
        ).append(
            {
                "id": article.id,
                "title": english.title if english else article.slug,
                "slug": article.slug,
                "published": article.published,
                "organisation": orgs.get(article.organisation_id or 0, "Ngazi (the service)"),
                "languages": [code for code in LANGUAGES if code in by_lang],
                "revision": revision,
            }
        )
    return render_template(
        "console/content_list.html",
        groups={topic: cats for topic, cats in groups.items() if cats},
        total=len(articles),
        may_create=content_admin.may_change(user),
        organisation=user.organisation.name if user.organisation else None,
        editor=user.role is ConsoleRole.EDITOR,
    )


def _latest_revisions(db: Session, ids: list[int]) -> dict[int, ArticleRevision]:
    if not ids:
        return {}
    newest = (
        select(ArticleRevision.article_id, func.max(ArticleRevision.number).label("n"))
        .where(ArticleRevision.article_id.in_(ids))
        .group_by(ArticleRevision.article_id)
        .subquery()
    )
    rows = db.scalars(
        select(ArticleRevision).join(
            newest,
            (ArticleRevision.article_id == newest.c.article_id)
            & (ArticleRevision.number == newest.c.n),
        )
    )
    return {r.article_id: r for r in rows}


# -- create and edit ---------------------------------------------------------------------------


@bp.route("/content/new", methods=["GET", "POST"])
def content_new() -> ResponseReturnValue:
    """The form for a new article; saved, it is a draft (unpublished) with
    revision 1 and opens in the editor. "Count" measures without saving."""
    db = db_session()
    user = current_console_user()
    if not content_admin.may_change(user):
        return _forbidden("A supervisor may read articles but not write them.")
    form = ArticleForm()
    form.fill_choices(db)
    error, status = None, 200
    if request.method == "POST" and "save" in request.form:
        try:
            article, _revision = content_admin.create_article(db, user, form.draft(), utcnow())
        except ContentError as exc:
            db.rollback()
            error, status = form.show_problems(exc.problems), 422
        else:
            flash("Saved as a draft (revision 1). Publish it when it is ready.")
            return redirect(url_for("console.content_edit", article_id=article.id))
    return render_template(
        "console/content_edit.html",
        form=form,
        article=None,
        fits=_fits(form.texts()),
        error=error,
        may_change=True,
        languages=LANGUAGE_NAMES,
        current=None,
    ), status


@bp.route("/content/<id:article_id>", methods=["GET", "POST"])
def content_edit(article_id: int) -> ResponseReturnValue:
    """The editor: the four languages side by side, each with its USSD screens
    and SMS parts. "Save" keeps a new revision; "Count" measures what is typed
    without saving. A save made against an old revision is refused (409) with
    the text kept, and the current version shown."""
    db = db_session()
    user = current_console_user()
    article = _article(article_id)
    may_change = content_admin.may_change(user, article)
    form = ArticleForm()
    form.fill_choices(db)
    error, status, current = None, 200, None
    if request.method == "GET":
        form.fill_from(article, _latest_number(db, article.id))
    elif not may_change:
        return _forbidden("A supervisor may read articles but not change them.")
    elif "save" in request.form:
        base = form.base()
        try:
            if base is None:
                raise ContentError({"": "This form does not match the article: reload the page."})
            revision = content_admin.edit_article(db, user, article, form.draft(), base, utcnow())
        except Conflict as exc:
            error, status = form.show_problems(exc.problems), 409
            current = exc.latest
            form.base_revision.data = str(exc.latest.number)  # the next save is deliberate
        except ContentError as exc:
            db.rollback()
            error, status = form.show_problems(exc.problems), 422
        else:
            if revision is None:
                flash("Nothing changed: no new revision.")
            else:
                state = "published: callers see it now" if article.published else "a draft"
                flash(f"Saved as revision {revision.number} ({state}).")
            return redirect(url_for("console.content_edit", article_id=article.id))
    return render_template(
        "console/content_edit.html",
        form=form,
        article=article,
        organisation=_organisation_name(db, article),
        fits=_fits(form.texts()),
        error=error,
        may_change=may_change,
        languages=LANGUAGE_NAMES,
        current=current,
    ), status


def _organisation_name(db: Session, article: Article) -> str:
    if article.organisation_id is None:
        return "Ngazi (the service)"
    org = db.get(Organisation, article.organisation_id)
    return org.name if org else "?"


@bp.post("/content/<id:article_id>/publish")
def content_publish(article_id: int) -> ResponseReturnValue:
    return _set_published(article_id, True)


@bp.post("/content/<id:article_id>/unpublish")
def content_unpublish(article_id: int) -> ResponseReturnValue:
    return _set_published(article_id, False)


def _set_published(article_id: int, published: bool) -> ResponseReturnValue:
    db = db_session()
    user = current_console_user()
    article = _article(article_id)
    text = request.form.get("base_revision", "")
    base = int(text) if text.isascii() and text.isdigit() and len(text) < 10 else -1
    try:
        revision = content_admin.set_published(
            db, user, article, published, utcnow(), base_revision=base
        )
    except NotAllowed:
        return _forbidden("A supervisor may read articles but not publish or unpublish them.")
    except ContentError as exc:
        flash(f"{exc} Nothing was published or unpublished.")
    else:
        if revision is None:
            flash(f"It was {'published' if published else 'unpublished'} already.")
        elif published:
            flash(f"Published (revision {revision.number}): callers see it on USSD now.")
        else:
            flash(f"Unpublished (revision {revision.number}): callers no longer see it.")
    return redirect(url_for("console.content_edit", article_id=article_id))


@bp.post("/content/counts")
def content_counts() -> ResponseReturnValue:
    """Screens and SMS parts per language of the posted form's texts, as JSON
    (``static/content.js`` asks as the editor types): ``{language: {"screens",
    "parts", "encoding", "units", "fallback", "warning"}}``."""
    if (request.content_length or 0) > MAX_COUNT_REQUEST:
        abort(413)
    form = ArticleForm()
    texts = {
        code: (
            content_admin.clean_text(t, multiline=False),
            content_admin.clean_text(b, multiline=True),
        )
        for code, (t, b) in form.texts().items()
    }
    return jsonify(
        {
            code: {
                "screens": fit.screens,
                "parts": fit.sms.parts,
                "encoding": fit.sms.encoding,
                "units": fit.sms.units,
                "fallback": fit.fallback,
                "warning": fit.sms.warning,
            }
            for code, fit in _fits(texts).items()
        }
    )


# -- history ----------------------------------------------------------------------------------


@bp.get("/content/<id:article_id>/revisions")
def content_history(article_id: int) -> ResponseReturnValue:
    """Every revision of the article, newest first: number, when, who, what."""
    db = db_session()
    article = _article(article_id)
    revisions = db.scalars(
        select(ArticleRevision)
        .where(ArticleRevision.article_id == article.id)
        .order_by(ArticleRevision.number.desc())
    ).all()
    return render_template(
        "console/content_history.html",
        article=article,
        title=_english_title(article),
        revisions=revisions,
        names=_user_names(db, revisions),
    )


@bp.get("/content/<id:article_id>/revisions/<id:number>")
def content_revision(article_id: int, number: int) -> ResponseReturnValue:
    """One revision's snapshot: the article as it stood after that change."""
    db = db_session()
    article = _article(article_id)
    revision = db.scalars(
        select(ArticleRevision).where(
            ArticleRevision.article_id == article.id, ArticleRevision.number == number
        )
    ).first()
    if revision is None:
        abort(404)
    snap = revision.snapshot
    category = db.get(Category, snap.get("category_id") or 0)
    org_id = snap.get("organisation_id")
    org = db.get(Organisation, org_id) if isinstance(org_id, int) else None
    return render_template(
        "console/content_revision.html",
        article=article,
        title=_english_title(article),
        revision=revision,
        names=_user_names(db, [revision]),
        snap=snap,
        category=_category_label(db, category) if category else "(a category since removed)",
        organisation=org.name if org else "Ngazi (the service)",
        languages=LANGUAGE_NAMES,
    )


def _english_title(article: Article) -> str:
    english = next((t for t in article.translations if t.language == "en"), None)
    return english.title if english else article.slug


def _category_label(db: Session, category: Category) -> str:
    name = db.scalar(
        select(CategoryTranslation.name).where(
            CategoryTranslation.category_id == category.id, CategoryTranslation.language == "en"
        )
    )
    return f"{TOPIC_NAMES[category.topic]} / {name or category.slug}"


def _user_names(db: Session, revisions: Any) -> dict[int, str]:
    ids = {r.user_id for r in revisions if r.user_id is not None}
    if not ids:
        return {}
    rows = db.execute(select(ConsoleUser.id, ConsoleUser.name).where(ConsoleUser.id.in_(ids)))
    return {row.id: row.name for row in rows}
