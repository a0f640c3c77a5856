"""``/console/content``: editors kept to their organisation's articles and the
Content pages, supervisors reading only, CSRF, refused input kept, conflicts
told, and publishing seen by callers at once."""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.db import db_session
from models import Article, ArticleRevision, ConsoleRole
from tests.test_console_auth import PASSWORD, csrf_token, login, make_user
from tests.test_content_admin import CATEGORY, editor, make_article, scratch_category

CALLER = "+254700000101"


@pytest.fixture
def category(app: Flask) -> Iterator[int]:
    """Our own category, and everything the test made removed afterwards."""
    with scratch_category(app) as category_id:
        yield category_id


def _form(client: FlaskClient, path: str, **fields: str) -> dict[str, str]:
    """The form at ``path`` as shown (every field's value), with ``fields``."""
    page = client.get(path).get_data(as_text=True)
    form = {"csrf_token": csrf_token(page)}
    for name, value in re.findall(r'<input [^>]*name="([a-z_]+)"[^>]*value="([^"]*)"', page):
        form.setdefault(name, html.unescape(value))
    for name, value in re.findall(
        r'<textarea [^>]*name="([a-z_]+)"[^>]*>\n?([^<]*)</textarea>', page
    ):
        form[name] = html.unescape(value)
    selected = re.search(r'<option selected value="(\d+)"|<option value="(\d+)" selected', page)
    if selected:
        form["category"] = selected.group(1) or selected.group(2)
    form.update(fields)
    return form


def _flash(client: FlaskClient, resp: Any) -> str:
    assert resp.status_code == 302, resp.get_data(as_text=True)
    page = client.get(resp.location).get_data(as_text=True)
    found = re.search(r'<p class="notice" role="status">([^<]*)</p>', page)
    assert found, page
    return html.unescape(found.group(1))


def _testid(page: str, name: str) -> str:
    found = re.search(rf'data-testid="{name}"[^>]*>([^<]*)<', page)
    assert found, name
    return html.unescape(found.group(1)).strip()


def _article_screen(client: FlaskClient, title: str) -> str:
    """Dial (English) Health advice → our category → the article titled
    ``title``: that screen, or the list where it is missing."""
    session = f"s-{next(_sessions)}"

    def dial(inputs: list[str]) -> str:
        form = {"sessionId": session, "serviceCode": "*384*1234#", "phoneNumber": CALLER}
        resp = client.post("/ussd", data=form | {"text": "*".join(inputs)})
        return str(resp.get_data(as_text=True))

    inputs = ["1"] if "1 English" in dial([]) else []  # a first call picks a language
    for label in ("Health advice", CATEGORY["en"], title):
        screen = dial(inputs)
        while not (key := _key_for(screen, label)):
            if "\n98 " not in screen:
                return screen
            inputs.append("98")
            screen = dial(inputs)
        inputs.append(key)
    return dial(inputs)


_sessions = itertools.count()


def _key_for(screen: str, label: str) -> str | None:
    for line in screen.splitlines():
        key, _, text = line.partition(" ")
        if key.isdigit() and text == label:
            return key
    return None


def test_an_editor_sees_only_their_organisation_and_only_content(
    app: Flask, client: FlaskClient, category: int
) -> None:
    mine = editor(app, "amina", "Maji Safi Trust")
    theirs = editor(app, "baraka", "Afya Njema")
    own = make_article(app, category, mine, en=("Chlorine at the water point", "Free."))
    other = make_article(app, category, theirs, "hours", en=("Clinic hours", "Open at 8."))
    assert login(client, "amina", PASSWORD).status_code == 302

    listing = client.get("/console/content").get_data(as_text=True)
    assert "Chlorine at the water point" in listing and "Clinic hours" not in listing
    assert "Inua Jamii" not in listing  # the service's own articles are not theirs either
    assert f'data-article="{own}"' in listing
    home = client.get("/console/").get_data(as_text=True)
    assert 'data-testid="nav-content"' in home and 'data-testid="nav-jobs"' in home
    for hidden in ("nav-campaigns", "nav-market", "nav-queues"):
        assert f'data-testid="{hidden}"' not in home
    assert _testid(home, "organisation") == "Maji Safi Trust"

    assert client.get(f"/console/content/{other}").status_code == 404
    assert client.get(f"/console/content/{other}/revisions").status_code == 404
    token = csrf_token(listing)
    published = client.post(
        f"/console/content/{other}/publish", data={"csrf_token": token, "base_revision": "1"}
    )
    assert published.status_code == 404
    for path in ("/console/campaigns", "/console/queues", "/console/market"):
        assert client.get(path).status_code == 403, path
    assert client.post("/console/campaigns/new", data={"csrf_token": token}).status_code == 403
    assert client.get(f"/console/content/{own}").status_code == 200


def test_a_supervisor_reads_but_cannot_change(
    app: Flask, client: FlaskClient, category: int
) -> None:
    article_id = make_article(app, category, en=("Nets", "At the clinic."))
    make_user(app, "otieno", role=ConsoleRole.SUPERVISOR, areas=["Kisumu"])
    assert login(client, "otieno", PASSWORD).status_code == 302
    page = client.get(f"/console/content/{article_id}").get_data(as_text=True)
    assert 'data-testid="read-only"' in page and 'data-testid="save"' not in page
    assert 'data-testid="publish"' not in page
    assert 'data-testid="new-article"' not in client.get("/console/content").get_data(as_text=True)
    form = _form(client, f"/console/content/{article_id}", body_en="Changed.", save="1")
    assert client.post(f"/console/content/{article_id}", data=form).status_code == 403
    token = form["csrf_token"]
    publish = {"csrf_token": token, "base_revision": "1"}
    assert client.post(f"/console/content/{article_id}/publish", data=publish).status_code == 403
    assert client.get("/console/content/new").status_code == 403
    with app.app_context():
        article = db_session().get(Article, article_id)
        assert article is not None and not article.published
        assert [t.body for t in article.translations] == ["At the clinic."]


def test_a_form_without_its_csrf_token_is_refused(
    app: Flask, client: FlaskClient, category: int
) -> None:
    article_id = make_article(app, category)
    make_user(app)
    login(client, "achieng", PASSWORD)
    form = _form(client, f"/console/content/{article_id}", body_en="Changed.", save="1")
    del form["csrf_token"]
    assert client.post(f"/console/content/{article_id}", data=form).status_code == 400
    resp = client.post(f"/console/content/{article_id}/publish", data={"base_revision": "1"})
    assert resp.status_code == 400
    with app.app_context():
        article = db_session().get(Article, article_id)
        assert article is not None and not article.published
        assert [t.body for t in article.translations] == ["Body"]


def test_refused_input_is_explained_and_kept(
    app: Flask, client: FlaskClient, category: int
) -> None:
    make_user(app)
    login(client, "achieng", PASSWORD)
    form = _form(
        client,
        "/console/content/new",
        category=str(category),
        slug="bed-nets",
        title_en="",
        body_en="Nets are free at the clinic.",
        title_sw="Vyandarua",
        body_sw="Bure kliniki.",
        save="1",
    )
    resp = client.post("/console/content/new", data=form)
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert _testid(page, "error-title_en") == "Give the text a title too, or clear it."
    assert "Nets are free at the clinic.</textarea>" in page
    assert 'value="Vyandarua"' in page
    with app.app_context():
        assert (
            db_session().scalar(select(Article.id).where(Article.category_id == category)) is None
        )


def test_an_edit_against_an_old_revision_is_refused_with_the_text_kept(
    app: Flask, client: FlaskClient, category: int
) -> None:
    article_id = make_article(app, category, en=("Nets", "First."))
    make_user(app)
    login(client, "achieng", PASSWORD)
    path = f"/console/content/{article_id}"
    mine = _form(client, path, body_en="Mine.", save="1")
    theirs = _form(client, path, body_en="Theirs.", save="1")
    assert _flash(client, client.post(path, data=theirs)) == "Saved as revision 2 (a draft)."
    resp = client.post(path, data=mine)
    assert resp.status_code == 409
    page = resp.get_data(as_text=True)
    assert "Someone else changed this article" in _testid(page, "form-error")
    assert "Mine.</textarea>" in page and "Theirs." in page  # theirs in the saved version shown
    with app.app_context():
        revisions = db_session().scalars(
            select(ArticleRevision.number).where(ArticleRevision.article_id == article_id)
        )
        assert list(revisions) == [1, 2]
        article = db_session().get(Article, article_id)
        assert article is not None and [t.body for t in article.translations] == ["Theirs."]
    # Saving again from that page is deliberate: it is made against revision 2.
    again = _form(client, path, body_en="Mine.", save="1") | {"base_revision": "2"}
    assert _flash(client, client.post(path, data=again)) == "Saved as revision 3 (a draft)."


def test_write_publish_and_unpublish_as_callers_see_it(
    app: Flask, client: FlaskClient, category: int
) -> None:
    make_user(app)
    login(client, "achieng", PASSWORD)
    form = _form(
        client,
        "/console/content/new",
        category=str(category),
        slug="bed-nets",
        source="Ministry of Health",
        title_en="Free bed nets",
        body_en="Every clinic gives them.\x00",
        title_sw="Vyandarua bure",
        body_sw="Kila kliniki inatoa.",
        save="1",
    )
    resp = client.post("/console/content/new", data=form)
    assert _flash(client, resp).startswith("Saved as a draft (revision 1).")
    article_id = int(resp.location.rsplit("/", 1)[1])
    page = client.get(resp.location).get_data(as_text=True)
    assert _testid(page, "status") == "draft"
    assert "No French text: callers read English." in page
    assert "Free bed nets" not in _article_screen(client, "Free bed nets")

    publish = {"csrf_token": csrf_token(page), "base_revision": "1"}
    resp = client.post(f"/console/content/{article_id}/publish", data=publish)
    assert _flash(client, resp) == "Published (revision 2): callers see it on USSD now."
    screen = _article_screen(client, "Free bed nets")
    assert screen.startswith("CON Free bed nets\nEvery clinic gives them.\n")

    unpublish = {"csrf_token": csrf_token(page), "base_revision": "2"}
    resp = client.post(f"/console/content/{article_id}/unpublish", data=unpublish)
    assert _flash(client, resp) == "Unpublished (revision 3): callers no longer see it."
    assert "Free bed nets" not in _article_screen(client, "Free bed nets")

    history = client.get(f"/console/content/{article_id}/revisions").get_data(as_text=True)
    rows = re.findall(
        r'data-revision="(\d+)">\s*<td class="num">\d+</td>\s*<td>[^<]*</td>\s*<td>(\w+)</td>',
        history,
    )
    assert rows == [("3", "unpublished"), ("2", "published"), ("1", "created")]
    assert "Achieng Odhiambo (achieng)" in history
    snap = client.get(f"/console/content/{article_id}/revisions/1").get_data(as_text=True)
    assert _testid(snap, "snap-status") == "draft"
    assert _testid(snap, "snap-body-en") == "Every clinic gives them."  # the NUL stripped
    assert _testid(snap, "snap-title-sw") == "Vyandarua bure"
    assert client.get(f"/console/content/{article_id}/revisions/9").status_code == 404


def test_the_counts_endpoint_measures_what_is_typed(
    app: Flask, client: FlaskClient, category: int
) -> None:
    make_user(app)
    login(client, "achieng", PASSWORD)
    page = client.get("/console/content/new").get_data(as_text=True)
    resp = client.post(
        "/console/content/counts",
        data={
            "title_en": "Nets",
            "body_en": "word " * 60,
            "title_zh": "蚊帐",
            "body_zh": "字" * 80,
        },
        headers={"X-CSRFToken": csrf_token(page)},
    )
    assert resp.status_code == 200
    counts = resp.get_json()
    assert counts["en"]["encoding"] == "GSM-7" and counts["en"]["parts"] == 2
    assert counts["zh"]["encoding"] == "UCS-2" and counts["zh"]["units"] == 83
    assert counts["zh"]["parts"] == 2 and counts["zh"]["screens"] >= 2
    assert counts["sw"]["fallback"] is True and counts["sw"]["screens"] == counts["en"]["screens"]
    assert client.post("/console/content/counts", data={"title_en": "x"}).status_code == 400


def test_editors_and_organisations_from_the_command_line(app: Flask, category: int) -> None:
    runner = app.test_cli_runner()
    env = {"NGAZI_USER_PASSWORD": PASSWORD}
    assert runner.invoke(args=["org", "add", "Maji Safi Trust"]).output.startswith("organisation ")
    taken = runner.invoke(args=["org", "add", "maji safi trust"])
    assert taken.exit_code == 1 and "already an organisation" in taken.output
    add = ["user", "add", "amina", "--name", "Amina Hassan", "--role", "editor"]
    refused = runner.invoke(args=add, env=env)
    assert refused.exit_code == 1 and "an editor needs an organisation" in refused.output
    unknown = runner.invoke(args=[*add, "--organisation", "Nobody"], env=env)
    assert unknown.exit_code == 1 and "no organisation 'Nobody'" in unknown.output
    made = runner.invoke(args=[*add, "--organisation", "maji safi trust"], env=env)
    assert made.exit_code == 0, made.output
    assert made.output.endswith("amina Amina Hassan, editor (Maji Safi Trust)\n")
    listed = runner.invoke(args=["org", "list"]).output.splitlines()
    assert listed[1].split("\t")[1:] == ["Maji Safi Trust", "1", "0"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/console/content/2147483648"),
        ("GET", "/console/content/99999999999999999999"),
        ("GET", "/console/content/2147483648/revisions"),
        ("GET", "/console/content/1/revisions/2147483648"),
        ("POST", "/console/content/99999999999"),
        ("POST", "/console/content/99999999999/publish"),
        ("POST", "/console/content/99999999999/unpublish"),
        ("GET", "/console/content/0"),
    ],
)
def test_ids_no_column_can_hold_are_404(
    app: Flask, client: FlaskClient, method: str, path: str
) -> None:
    make_user(app)
    assert login(client, "achieng", PASSWORD).status_code == 302
    token = csrf_token(client.get("/console/content/new").get_data(as_text=True))
    resp = client.open(path, method=method, data={"csrf_token": token})
    assert resp.status_code == 404


def test_a_category_no_column_can_hold_is_refused_not_a_500(
    app: Flask, client: FlaskClient, category: int
) -> None:
    make_user(app)
    assert login(client, "achieng", PASSWORD).status_code == 302
    form = _form(client, "/console/content/new", category="99999999999", slug="big-id")
    form |= {"title_en": "A title", "body_en": "A text", "save": "1"}
    resp = client.post("/console/content/new", data=form)
    assert resp.status_code == 422
