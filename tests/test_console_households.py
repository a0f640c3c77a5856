"""``/console/households`` and ``/console/audit``: search and open households within
one's areas, every view of personal data on record, the audit log for admins."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select

from app.db import db_session
from models import Area, AuditEvent, ConsoleRole, ConsoleUser
from tests.factories import create_completed_household
from tests.test_console_auth import PASSWORD, login, make_user
from tests.test_console_market_jobs import _apply, _job

KISUMU_CADRE, KAKAMEGA_CADRE = "+254700000901", "+254700000902"


@pytest.fixture(autouse=True)
def _no_events(app: Flask) -> None:
    with app.app_context():
        db_session().execute(delete(AuditEvent))
        db_session().commit()


def _area(name: str) -> int:
    found = db_session().scalar(select(Area.id).where(Area.name == name))
    assert found is not None
    return found


def _household(app: Flask, name: str, village: str, phone: str) -> int:
    cadre = KAKAMEGA_CADRE if village in ("Shinyalu", "Chwele") else KISUMU_CADRE
    with app.app_context():
        done = create_completed_household(
            db_session(),
            cadre_msisdn=cadre,
            village=str(_area(village)),
            head_name=name,
            head_phone=phone,
        )
        return int(done.household_id)


def _sign_in(app: Flask, client: FlaskClient, role: ConsoleRole = ConsoleRole.ADMIN) -> int:
    areas = ["Kakamega"] if role is ConsoleRole.SUPERVISOR else []
    user = make_user(app, "otieno", name="Otieno Ouma", role=role, areas=areas)
    assert login(client, "otieno", PASSWORD).status_code == 302
    return user


def _events(app: Flask) -> list[dict[str, Any]]:
    with app.app_context():
        found = db_session().scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        return [
            {
                "user_id": e.user_id,
                "username": e.username,
                "action": e.action,
                "subject_type": e.subject_type,
                "subject_id": e.subject_id,
                "detail": e.detail,
                "address": e.address,
            }
            for e in found
        ]


def _rows(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-household="(\d+)"', page)]


@pytest.fixture
def three(app: Flask) -> dict[str, int]:
    """Two households in Kisumu, one in Kakamega."""
    return {
        "kombewa": _household(app, "Wanjiru Kamau", "Kombewa", "+254711000001"),
        "ahero": _household(app, "Otieno Odhiambo", "Ahero", "+254711000002"),
        "shinyalu": _household(app, "Akinyi Wanjiru", "Shinyalu", "+254711000003"),
    }


def test_an_admin_searches_by_name_and_the_search_is_on_record(
    app: Flask, client: FlaskClient, three: dict[str, int]
) -> None:
    user = _sign_in(app, client)
    resp = client.get("/console/households?q=wanj")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert _rows(page) == [three["shinyalu"], three["kombewa"]]
    assert ">+2547******01<" in page and "+254711000001" not in page
    assert ">Kombewa <span" in page
    assert _events(app) == [
        {
            "user_id": user,
            "username": "otieno",
            "action": "household.search",
            "subject_type": "search",
            "subject_id": "",
            "detail": {
                "words": 'name "wanj"',
                "name": "wanj",
                "area": None,
                "order": "recent",
                "page": 1,
                "rows": 2,
                "households": [three["shinyalu"], three["kombewa"]],
            },
            "address": "127.0.0.1",
        }
    ]
    nothing = client.get("/console/households?q=nobody").get_data(as_text=True)
    assert 'data-testid="no-results"' in nothing
    assert len(_events(app)) == 1  # nothing shown: nothing to record


def test_search_by_area_drills_down(app: Flask, client: FlaskClient, three: dict[str, int]) -> None:
    _sign_in(app, client, ConsoleRole.OPERATOR)
    first = client.get("/console/households").get_data(as_text=True)
    options = re.findall(r'<option value="(\d+)">([^<]+)</option>', first)
    assert [n for _, n in options] == ["Coast", "Nyanza", "Western"]
    assert 'data-testid="households"' not in first  # nothing asked yet
    with app.app_context():
        kisumu = _area("Kisumu")
    page = client.get(f"/console/households?area={kisumu}&order=name").get_data(as_text=True)
    assert _rows(page) == [three["ahero"], three["kombewa"]]
    assert re.findall(r'<option value="\d+">([^<]+)</option>', page) == [
        "Ahero",
        "Katito",
        "Kombewa",
        "Pap Onditi",
    ]
    assert "<strong>Kisumu</strong>" in page
    event = _events(app)[0]
    assert (event["subject_id"], event["detail"]["words"]) == (str(kisumu), "in Nyanza / Kisumu")
    assert 'data-testid="nav-audit"' not in page  # an operator has no audit link


def test_an_admin_opens_a_household_with_its_number_and_it_is_on_record(
    app: Flask, client: FlaskClient, three: dict[str, int]
) -> None:
    user = _sign_in(app, client)
    resp = client.get(f"/console/households/{three['kombewa']}")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'data-testid="msisdn">+254711000001<' in page
    assert "Wanjiru Kamau" in page and 'data-testid="score">0<' in page
    assert 'data-indicator="electricity"' in page
    assert _events(app) == [
        {
            "user_id": user,
            "username": "otieno",
            "action": "household.view",
            "subject_type": "household",
            "subject_id": str(three["kombewa"]),
            "detail": {"surveys": 1, "msisdn": "full"},
            "address": "127.0.0.1",
        }
    ]


def test_a_supervisor_sees_only_their_areas(
    app: Flask, client: FlaskClient, three: dict[str, int]
) -> None:
    _sign_in(app, client, ConsoleRole.SUPERVISOR)
    assert client.get(f"/console/households/{three['kombewa']}").status_code == 404
    assert _events(app) == []
    page = client.get("/console/households?q=wanjiru").get_data(as_text=True)
    assert _rows(page) == [three["shinyalu"]]
    with app.app_context():
        kisumu = _area("Kisumu")
    elsewhere = client.get(f"/console/households?q=wanjiru&area={kisumu}").get_data(as_text=True)
    assert _rows(elsewhere) == [three["shinyalu"]]  # an area not theirs is ignored
    options = re.findall(r'<option value="\d+">([^<]+)</option>', elsewhere)
    assert options == ["Kakamega"]
    mine = client.get(f"/console/households/{three['shinyalu']}")
    assert mine.status_code == 200 and "+254711000003" in mine.get_data(as_text=True)
    assert [e["action"] for e in _events(app)] == [
        "household.search",
        "household.search",
        "household.view",
    ]
    assert client.get("/console/audit").status_code == 403


@pytest.mark.parametrize(
    "path",
    ["abc", "0", "-1", "%C2%B2", "99999999999999999999", "2147483648", "2147483647"],
)
def test_odd_household_ids_are_404(app: Flask, client: FlaskClient, path: str) -> None:
    _sign_in(app, client)
    assert client.get(f"/console/households/{path}").status_code == 404
    assert _events(app) == []


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("q=a", 400, "Type at least 2 letters of the name."),
        ("q=ab%00cd", 400, "The name may not contain control characters."),
        ("q=ab%1Bcd", 400, "The name may not contain control characters."),
        ("q=" + "x" * 500, 400, "A name is at most 80 characters."),
        ("q=wanj&page=99999999999999", 200, None),
        ("q=wanj&page=abc&area=xyz&order=%00", 200, None),
    ],
)
def test_bad_search_input_is_answered_in_words(
    app: Flask,
    client: FlaskClient,
    three: dict[str, int],
    query: str,
    status: int,
    message: str | None,
) -> None:
    _sign_in(app, client)
    resp = client.get(f"/console/households?{query}")
    page = resp.get_data(as_text=True)
    assert resp.status_code == status
    if message:
        assert f'data-testid="search-error">{message}<' in page
        assert _events(app) == []
    assert "\x00" not in page and "\x1b" not in page


def test_the_audit_log_is_for_admins_with_filters_and_csv(
    app: Flask, client: FlaskClient, three: dict[str, int]
) -> None:
    make_user(app, "grace", name="Grace Akinyi", role=ConsoleRole.OPERATOR)
    operator = app.test_client()
    assert login(operator, "grace", PASSWORD).status_code == 302
    operator.get(f"/console/households/{three['ahero']}")
    assert operator.get("/console/audit").status_code == 403
    assert operator.get("/console/audit?format=csv").status_code == 403
    _sign_in(app, client)
    client.get(f"/console/households/{three['kombewa']}")
    client.get("/console/households?q=wanj")
    page = client.get("/console/audit").get_data(as_text=True)
    assert re.findall(r"<td>(grace|otieno)</td><td>([a-z.]+)</td>", page) == [
        ("otieno", "household.search"),
        ("otieno", "household.view"),
        ("grace", "household.view"),
    ]
    assert f"viewed household {three['kombewa']} (1 surveys, number full)" in page
    assert "searched households for name &#34;wanj&#34;: 2 shown (page 1)" in page
    only = client.get("/console/audit?user=GRACE").get_data(as_text=True)
    assert len(re.findall(r"data-event=", only)) == 1
    subject = f"/console/audit?subject_type=household&subject_id={three['kombewa']}"
    assert len(re.findall(r"data-event=", client.get(subject).get_data(as_text=True))) == 1
    searches = client.get(
        "/console/audit?action=household.search&since=2000-01-01&until=2999-12-31"
    )
    assert len(re.findall(r"data-event=", searches.get_data(as_text=True))) == 1
    none = client.get("/console/audit?until=2000-01-01").get_data(as_text=True)
    assert 'data-testid="no-events"' in none
    resp = client.get("/console/audit?format=csv&action=household.view")
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    assert resp.mimetype == "text/csv"
    assert rows[0] == [
        "created_utc", "username", "action", "what",
        "subject_type", "subject_id", "address", "detail",
    ]  # fmt: skip
    assert [(r[1], r[2], r[5], r[6]) for r in rows[1:]] == [
        ("otieno", "household.view", str(three["kombewa"]), "127.0.0.1"),
        ("grace", "household.view", str(three["ahero"]), "127.0.0.1"),
    ]
    last = _events(app)[-1]
    assert (last["action"], last["detail"]["rows"], last["detail"]["filters"]) == (
        "audit.export",
        2,
        {
            "user": "",
            "action": "household.view",
            "subject_type": "",
            "subject_id": "",
            "since": "",
            "until": "",
        },
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=yesterday", "Since: a day is written YYYY-MM-DD (e.g. 2026-03-31)."),
        ("until=2026-13-01", "Until: a day is written YYYY-MM-DD (e.g. 2026-03-31)."),
        ("user=" + "u" * 41, "User: at most 40 printable characters."),
        ("subject_id=a%00b", "Subject id: at most 40 printable characters."),
    ],
)
def test_bad_audit_filters_are_answered_in_words(
    app: Flask, client: FlaskClient, query: str, message: str
) -> None:
    _sign_in(app, client)
    resp = client.get(f"/console/audit?{query}&page=99999999999")
    assert resp.status_code == 400
    assert f'data-testid="audit-error">{message}<' in resp.get_data(as_text=True)
    assert client.get(f"/console/audit?{query}&format=csv").status_code == 400


def test_applicants_and_offer_exports_are_on_record(app: Flask, client: FlaskClient) -> None:
    job = _job(app)
    _apply(app, job, "+254733000011", "Grace Akinyi")
    user = _sign_in(app, client)
    client.get(f"/console/jobs/{job}")
    client.get(f"/console/jobs/{job}?format=csv")
    client.get("/console/market?format=csv")
    found = [(e["action"], e["subject_type"], e["subject_id"], e["detail"]) for e in _events(app)]
    assert found == [
        (
            "job.applicants",
            "job",
            str(job),
            {"rows": 1, "page": 1, "format": "page", "numbers": "full"},
        ),
        (
            "job.applicants",
            "job",
            str(job),
            {"rows": 1, "page": 1, "format": "csv", "numbers": "masked"},
        ),
        ("market.offers", "offers", "", {"rows": 0, "format": "csv", "produce": None}),
    ]
    assert {e["user_id"] for e in _events(app)} == {user}
    with app.app_context():
        assert db_session().get(ConsoleUser, user) is not None


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_the_first_and_last_days_a_date_holds_are_filters_like_any(
    app: Flask, client: FlaskClient, day: str
) -> None:
    _sign_in(app, client)
    for fmt in ("", "&format=csv"):
        assert client.get(f"/console/audit?since={day}&until={day}{fmt}").status_code == 200
