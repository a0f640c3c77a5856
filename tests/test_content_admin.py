"""``domain.content_admin``: revisions, permissions, concurrency, validation, and
screen and SMS counts that equal what a caller dialling the article sees."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, select, update

from app.db import db_session
from domain import content, content_admin
from domain.content_admin import Conflict, ContentError, Draft, NotAllowed
from domain.sms_encoding import gsm7_lookalike
from domain.subscribers import get_or_create_subscriber, set_language
from domain.translation import gettext_for
from menus.content import TOPIC_TITLES
from menus.screen import Limits
from models import (
    Article,
    ArticleRevision,
    Category,
    CategoryTranslation,
    ConsoleRole,
    ConsoleUser,
    Organisation,
    Topic,
)
from tests.test_console_auth import PASSWORD, make_user

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CATEGORY = {
    "en": "Ngazi test news",
    "sw": "Habari za majaribio",
    "fr": "Nouvelles test",
    "zh": "测试新闻",
}
LONG_EN = (
    "Clinics in Kisumu county give free bed nets to every pregnant woman and every child under "
    "five. Bring the child's health card or your antenatal card. Sleep under the net every "
    "night, all year, and hang it so that it reaches the floor. Wash it gently in cold water "
    "and dry it in the shade, never in the sun."
)
LONG_SW = (
    "Kliniki za kaunti ya Kisumu zinatoa vyandarua bure kwa kila mama mjamzito na kila mtoto "
    "chini ya miaka mitano. Beba kadi ya afya ya mtoto au kadi ya kliniki ya ujauzito. Lala "
    "ndani ya chandarua kila usiku, mwaka mzima."
)
LONG_ZH = (
    "基苏木县的诊所为每位孕妇和每个五岁以下的儿童免费发放蚊帐。"
    "请带上孩子的健康卡或产检卡。一年四季每晚都要睡在蚊帐里，把蚊帐挂到地面。蚊帐破了要及时修补。"
)


@pytest.fixture
def scratch(app: Flask) -> Iterator[int]:
    with scratch_category(app) as category_id:
        yield category_id


@contextmanager
def scratch_category(app: Flask) -> Iterator[int]:
    """A category of our own (health, last); on leaving, every article, revision,
    user and organisation the test made is removed, so the demo content the
    other tests read is as it was."""
    with app.app_context():
        db = db_session()
        demo_articles = set(db.scalars(select(Article.id)))
        category = Category(topic=Topic.HEALTH, slug="ngazi-test-news", position=99)
        category.translations = [
            CategoryTranslation(language=code, name=name) for code, name in CATEGORY.items()
        ]
        db.add(category)
        db.commit()
        category_id = category.id
    try:
        yield category_id
    finally:
        _clean(app, demo_articles, category_id)


def _clean(app: Flask, demo_articles: set[int], category_id: int) -> None:
    with app.app_context():
        db = db_session()
        db.rollback()
        db.execute(delete(ArticleRevision).where(ArticleRevision.user_id.is_not(None)))
        db.execute(delete(Article).where(Article.id.not_in(demo_articles)))
        db.execute(delete(Category).where(Category.id == category_id))
        db.execute(delete(ConsoleUser))
        db.execute(update(Article).values(organisation_id=None))  # demo content: the service's
        db.execute(delete(Organisation))
        db.commit()
    content.clear_cache()


def organisation(app: Flask, name: str) -> int:
    with app.app_context():
        org = content_admin.add_organisation(db_session(), name)
        db_session().commit()
        return org.id


def editor(app: Flask, username: str, org_name: str) -> int:
    """An editor of ``org_name`` (made if missing); their id."""
    from domain import console_users
    from tests.test_console_auth import PASSWORD

    with app.app_context():
        db = db_session()
        org = content_admin.find_organisation(db, org_name) or content_admin.add_organisation(
            db, org_name
        )
        user = console_users.create_user(
            db,
            username=username,
            name=username.title(),
            password=PASSWORD,
            role=ConsoleRole.EDITOR,
            organisation=org,
        )
        db.commit()
        return user.id


def _user(user_id: int | None) -> ConsoleUser | None:
    return None if user_id is None else db_session().get(ConsoleUser, user_id)


def draft(category_id: int, slug: str = "bed-nets", **texts: tuple[str, str]) -> Draft:
    return Draft(category_id, slug, "Ministry of Health", texts or {"en": ("Nets", "Body")})


def make_article(
    app: Flask, category_id: int, user_id: int | None = None, slug: str = "bed-nets", **texts: Any
) -> int:
    with app.app_context():
        article, _ = content_admin.create_article(
            db_session(), _user(user_id), draft(category_id, slug, **texts), T0
        )
        return article.id


def _revisions(article_id: int) -> list[ArticleRevision]:
    return list(
        db_session().scalars(
            select(ArticleRevision)
            .where(ArticleRevision.article_id == article_id)
            .order_by(ArticleRevision.number)
        )
    )


# -- revisions -------------------------------------------------------------------------------


def test_every_change_is_a_numbered_revision_with_a_true_snapshot(app: Flask, scratch: int) -> None:
    admin = make_user(app, "wanjiru", role=ConsoleRole.ADMIN)
    article_id = make_article(
        app, scratch, admin, en=("Free bed nets", "At the clinic."), sw=("Vyandarua", "Kliniki.")
    )
    with app.app_context():
        db = db_session()
        article = db.get(Article, article_id)
        assert article is not None and article.published is False
        user = _user(admin)
        second = content_admin.edit_article(
            db,
            user,
            article,
            draft(
                scratch, en=("Free bed nets", "At every clinic."), fr=("Moustiquaires", "Gratuit.")
            ),
            1,
            T0,
        )
        assert second is not None and second.number == 2
        assert content_admin.set_published(db, user, article, True, T0, base_revision=2) is not None
        assert content_admin.set_published(db, user, article, True, T0) is None  # already
        unpublished = content_admin.set_published(db, user, article, False, T0)
        assert unpublished is not None and unpublished.number == 4

        revisions = _revisions(article_id)
        assert [(r.number, r.action, r.username) for r in revisions] == [
            (1, "created", "wanjiru"),
            (2, "edited", "wanjiru"),
            (3, "published", "wanjiru"),
            (4, "unpublished", "wanjiru"),
        ]
        first = revisions[0].snapshot
        assert first["published"] is False and first["slug"] == "bed-nets"
        assert first["source"] == "Ministry of Health" and first["category_id"] == scratch
        assert first["translations"] == {
            "en": {"title": "Free bed nets", "body": "At the clinic."},
            "sw": {"title": "Vyandarua", "body": "Kliniki."},
        }
        # Kiswahili left empty in the edit: gone (its callers read English), French added.
        assert revisions[1].snapshot["translations"] == {
            "en": {"title": "Free bed nets", "body": "At every clinic."},
            "fr": {"title": "Moustiquaires", "body": "Gratuit."},
        }
        assert revisions[2].snapshot["published"] is True
        assert revisions[3].snapshot == {**revisions[1].snapshot, "published": False}
        assert all(r.user_id == admin for r in revisions)


def test_saving_the_same_text_again_adds_no_revision(app: Flask, scratch: int) -> None:
    article_id = make_article(app, scratch, en=("Nets", "Body"))
    with app.app_context():
        db = db_session()
        article = db.get(Article, article_id)
        assert article is not None
        same = draft(scratch, en=("  Nets ", "Body\r\n"))  # cleaned, it is what is stored
        assert content_admin.edit_article(db, None, article, same, 1, T0) is None
        assert [r.number for r in _revisions(article_id)] == [1]


def test_an_edit_made_against_an_old_revision_is_refused(app: Flask, scratch: int) -> None:
    article_id = make_article(app, scratch, en=("Nets", "First text."))
    with app.app_context():
        db = db_session()
        article = db.get(Article, article_id)
        assert article is not None
        # Two people opened revision 1; Achieng saves first.
        content_admin.edit_article(
            db, None, article, draft(scratch, en=("Nets", "Achieng's.")), 1, T0
        )
        with pytest.raises(Conflict) as refused:
            content_admin.edit_article(
                db, None, article, draft(scratch, en=("Nets", "Otieno's.")), 1, T0
            )
        assert refused.value.latest.number == 2
        assert "revision 2, edited" in str(refused.value)
        db.expire_all()
        assert content.get_article(db, article_id, "en") is None  # a draft
        assert [t.body for t in db.get(Article, article_id).translations] == ["Achieng's."]  # type: ignore[union-attr]
        # Publishing what one has not seen is refused too.
        with pytest.raises(Conflict):
            content_admin.set_published(db, None, article, True, T0, base_revision=1)


def test_two_saves_racing_for_one_revision_number_cannot_both_win(app: Flask, scratch: int) -> None:
    article_id = make_article(app, scratch)
    with app.app_context():
        db = db_session()
        article = db.get(Article, article_id)
        assert article is not None
        # The other save passed the check and wrote revision 2 after ours did.
        with pytest.raises(Conflict):
            content_admin.record(db, article, "edited", None, T0, number=1)
        db.rollback()
        assert [r.number for r in _revisions(article_id)] == [1]


# -- who may do what ------------------------------------------------------------------------


def test_editors_manage_their_organisations_articles_only(app: Flask, scratch: int) -> None:
    mine = editor(app, "amina", "Maji Safi Trust")
    theirs = editor(app, "baraka", "Afya Njema")
    supervisor = make_user(app, "otieno", role=ConsoleRole.SUPERVISOR, areas=["Kisumu"])
    article_id = make_article(app, scratch, mine)
    with app.app_context():
        db = db_session()
        article = db.get(Article, article_id)
        assert article is not None
        org = content_admin.find_organisation(db, "maji safi trust")
        assert org is not None and article.organisation_id == org.id  # the editor's, by default
        amina, baraka, sup = _user(mine), _user(theirs), _user(supervisor)
        assert amina and baraka and sup
        assert content_admin.may_read(amina, article) and content_admin.may_change(amina, article)
        assert not content_admin.may_read(baraka, article)
        assert not content_admin.may_change(baraka, article)
        assert content_admin.may_read(sup, article) and not content_admin.may_change(sup, article)
        for who in (baraka, sup):
            with pytest.raises(NotAllowed):
                content_admin.set_published(db, who, article, True, T0)
            with pytest.raises(NotAllowed):
                content_admin.edit_article(db, who, article, draft(scratch), 1, T0)
        with pytest.raises(NotAllowed):
            content_admin.create_article(db, sup, draft(scratch), T0)
        assert [r.number for r in _revisions(article_id)] == [1]


def test_an_editor_needs_an_organisation_and_nobody_else_takes_one(app: Flask) -> None:
    from domain import console_users

    with app.app_context():
        db = db_session()
        with pytest.raises(console_users.ConsoleUserError, match="an editor needs an organisation"):
            console_users.check_new_user(
                db, username="amina", name="Amina", role=ConsoleRole.EDITOR, areas=[]
            )
        org = content_admin.add_organisation(db, "Maji Safi Trust")
        with pytest.raises(console_users.ConsoleUserError, match="an admin takes no organisation"):
            console_users.check_new_user(
                db, username="amina", name="A", role=ConsoleRole.ADMIN, areas=[], organisation=org
            )
        with pytest.raises(ContentError, match="already an organisation"):
            content_admin.add_organisation(db, "  maji SAFI trust ")
        db.rollback()


# -- what is typed -----------------------------------------------------------------------------


def test_validation_names_each_problem(app: Flask, scratch: int) -> None:
    make_article(app, scratch)  # takes the slug "bed-nets"
    with app.app_context():
        db = db_session()
        bad = Draft(
            scratch,
            "Bed Nets!",
            "x" * 256,
            {
                "en": ("", ""),
                "sw": ("T" * 121, ""),
                "fr": ("", "Corps"),
                "zh": ("标题", "字" * 1601),
            },
        )
        with pytest.raises(ContentError) as refused:
            content_admin.check_draft(db, bad)
        assert refused.value.problems == {
            "slug": "A slug is 1 to 64 of a-z, 0-9 and single hyphens, like safe-water.",
            "source": "The source is at most 255 characters.",
            "title_sw": "A title is at most 120 characters.",
            "body_sw": "Write the text too, or clear the title.",
            "title_fr": "Give the text a title too, or clear it.",
            "body_zh": "A text is at most 1600 characters (this one has 1601).",
            "title_en": "English is required: a title and a text.",
        }
        with pytest.raises(ContentError) as taken:
            content_admin.check_draft(db, draft(scratch))
        assert taken.value.problems == {"slug": "The category already has an article 'bed-nets'."}
        with pytest.raises(ContentError) as nowhere:
            content_admin.check_draft(db, Draft(999_999, "ok", "", {"en": ("T", "B")}))
        assert nowhere.value.problems == {"category": "Choose a category."}


def test_control_characters_are_stripped_and_lines_kept() -> None:
    assert content_admin.clean_text("Nets\x00 for\tall\x1b[31m\r\n", multiline=False) == (
        "Nets for all[31m"
    )
    assert content_admin.clean_text("One\r\n\r\n\r\n\r\nTwo  \u0085three", multiline=True) == (
        "One\n\nTwo three"
    )
    assert content_admin.clean_text("e\u0301cole", multiline=False) == "école"  # NFC


# -- what a phone shows ---------------------------------------------------------------------------


def _screen(resp: Any) -> str:
    assert resp.status_code == 200
    return str(resp.get_data(as_text=True))


def _pick(dial: Any, session: str, inputs: list[str], label: str, msisdn: str) -> list[str]:
    """Walk ``inputs``, then page on (98) until a line offers ``label``; return
    the inputs that choose it."""
    body = _screen(dial(session, "*".join(inputs), msisdn=msisdn))
    wanted = {label, gsm7_lookalike(label)}
    while True:
        for line in body.splitlines():
            key, _, text = line.partition(" ")
            if text in wanted and key.isdigit():
                return [*inputs, key]
        assert "\n98 " in body, (label, body)
        inputs = [*inputs, "98"]
        body = _screen(dial(session, "*".join(inputs), msisdn=msisdn))


def _pages_on_ussd(app: Flask, dial: Any, language: str, title: str) -> tuple[int, str]:
    """Dial the published article in ``language``: how many screens a caller
    pages through (98 until the last), and the first screen."""
    msisdn = f"+2547001009{'ensw frzh'.index(language[0]):02d}"
    with app.app_context():
        subscriber_id, _ = get_or_create_subscriber(db_session(), msisdn)
        set_language(db_session(), subscriber_id, language)
    _ = gettext_for(language)
    session = f"pages-{language}"
    path = _pick(dial, session, [], _(TOPIC_TITLES[Topic.HEALTH]), msisdn)
    path = _pick(dial, session, path, CATEGORY[language], msisdn)
    path = _pick(dial, session, path, title, msisdn)
    first = _screen(dial(session, "*".join(path), msisdn=msisdn))
    screens, body = 1, first
    while "\n98 " in body:
        path.append("98")
        body = _screen(dial(session, "*".join(path), msisdn=msisdn))
        screens += 1
    return screens, first


def test_counts_are_what_a_caller_pages_through(app: Flask, scratch: int, dial: Any) -> None:
    texts = {
        "en": ("Free bed nets", LONG_EN),
        "sw": ("Vyandarua bure", LONG_SW),
        "zh": ("免费蚊帐", LONG_ZH),
    }  # no French: its callers read English, with French navigation
    article_id = make_article(app, scratch, **texts)
    with app.app_context():
        db = db_session()
        article = db.get(Article, article_id)
        assert article is not None
        content_admin.set_published(db, None, article, True, T0)
        engine = app.extensions["ngazi_ussd_engine"]
        fits = content_admin.measure(texts, limits=engine.limits, fold_to_gsm7=engine.fold_to_gsm7)
    assert fits["fr"].fallback and not fits["sw"].fallback
    for language in ("en", "sw", "fr", "zh"):
        title = texts.get(language, texts["en"])[0]
        screens, first = _pages_on_ussd(app, dial, language, title)
        assert fits[language].screens == screens, (language, first)
        assert first.startswith(f"CON {title}\n")
    assert fits["en"].screens >= 3 and fits["zh"].screens >= 2
    assert (fits["en"].sms.encoding, fits["en"].sms.parts) == ("GSM-7", 3)
    assert (fits["zh"].sms.encoding, fits["zh"].sms.parts) == ("UCS-2", 2)
    assert fits["zh"].sms.units == len(f"免费蚊帐\n{LONG_ZH}")


def test_counts_follow_the_engines_limits() -> None:
    texts = {"en": ("Nets", LONG_EN)}
    normal = content_admin.measure(texts, limits=Limits(160, 70), fold_to_gsm7=True)
    roomy = content_admin.measure(texts, limits=Limits(300, 140), fold_to_gsm7=True)
    assert roomy["en"].screens < normal["en"].screens
    assert content_admin.measure({"en": ("", "")}, limits=Limits(), fold_to_gsm7=True) == {}


def test_publishing_shows_the_article_on_ussd_at_once_and_unpublishing_hides_it(
    app: Flask, scratch: int
) -> None:
    article_id = make_article(app, scratch, en=("Free bed nets", "At the clinic."))
    with app.app_context():
        db = db_session()
        assert content.list_categories(db, Topic.HEALTH, "en")[-1][1] != CATEGORY["en"]
        article = db.get(Article, article_id)
        assert article is not None
        content_admin.set_published(db, None, article, True, T0)
        assert content.list_categories(db, Topic.HEALTH, "en")[-1] == (scratch, CATEGORY["en"])
        assert content.get_article(db, article_id, "sw") == (
            article_id,
            "Free bed nets",
            "At the clinic.",
        )
        content_admin.set_published(db, None, article, False, T0)
        assert content.get_article(db, article_id, "en") is None
        assert all(
            name != CATEGORY["en"] for _, name in content.list_categories(db, Topic.HEALTH, "en")
        )


def test_loading_the_demo_again_leaves_an_article_edited_in_the_console(
    app: Flask, scratch: int
) -> None:
    from domain import console_users, demo

    with app.app_context():
        db = db_session()
        user = console_users.create_user(
            db, username="otieno", name="Otieno", password=PASSWORD, role=ConsoleRole.ADMIN
        )
        db.commit()
        article = db.scalars(select(Article).order_by(Article.id)).first()
        assert article is not None
        base = content_admin.latest_revision(db, article.id)
        assert base is not None
        texts = {t.language: (t.title, t.body) for t in article.translations}
        texts["en"] = ("Edited in the console", texts["en"][1])
        edited = content_admin.edit_article(
            db,
            user,
            article,
            Draft(article.category_id, article.slug, article.source, texts),
            base.number,
            T0,
        )
        assert edited is not None
        try:
            demo.load_content(db)  # what `make run` does at every start
            db.expire_all()
            again = db.get(Article, article.id)
            assert again is not None
            assert {t.language: t.title for t in again.translations}[
                "en"
            ] == "Edited in the console"
            assert [r.number for r in _revisions(article.id)][-1] == edited.number  # no new one
        finally:
            db.execute(delete(ArticleRevision).where(ArticleRevision.user_id.is_not(None)))
            db.commit()
            demo.load_content(db)  # the demo text back, for the other tests
