"""``/console/analytics``: the drill-down, its figures, CSV exports with small
cells suppressed, a supervisor's reach, and odd requests."""

from __future__ import annotations

import csv
import io
import random
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select

from app.db import db_session
from domain import analytics, mpi, surveys
from domain.analytics_tables import INDICATOR_NAMES
from models import (
    Area,
    AreaLevel,
    AreaStatistic,
    AuditEvent,
    ConsoleRole,
    Household,
    HouseholdSurvey,
    SurveyRound,
)
from tests.test_analytics import random_answers, survey
from tests.test_console_auth import PASSWORD, login, make_user


@pytest.fixture
def surveyed(app: Flask) -> Iterator[dict[str, Any]]:
    """Kisumu's villages: Ahero 12 households, Kombewa 8, Katito 3 (a small
    cell); Kakamega's Shinyalu 6. Figures refreshed."""
    rng = random.Random(3)
    with app.app_context():
        db = db_session()
        by_name = {a.name: a for a in db.scalars(select(Area))}
        plan = {"Ahero": 12, "Kombewa": 8, "Katito": 3, "Shinyalu": 6}
        round_id = surveys.current_round_id(db)
        n = 0
        for name, count in plan.items():
            for _ in range(count):
                n += 1
                survey(db, random_answers(rng, by_name[name]), round_id=round_id, key=f"s{n}")
        analytics.refresh(db)
        yield {name: area.id for name, area in by_name.items()} | {"round": round_id}
        db.execute(delete(AuditEvent))
        db.commit()


def sign_in(
    app: Flask,
    client: FlaskClient,
    role: ConsoleRole = ConsoleRole.ADMIN,
    areas: tuple[str, ...] = (),
) -> None:
    make_user(app, "achieng", role=role, areas=areas)
    assert login(client, "achieng", PASSWORD).status_code == 302


def expected(app: Flask, village_names: list[str]) -> mpi.MpiResult:
    with app.app_context():
        db = db_session()
        rows = db.scalars(
            select(HouseholdSurvey)
            .join(Household)
            .join(Area, Area.id == Household.area_id)
            .where(Area.name.in_(village_names))
        ).all()
        return mpi.measure(
            mpi.Household(
                str(r.household_id),
                r.members,
                {n: int(getattr(r, f"dep_{n}")) for n in mpi.INDICATORS},
            )
            for r in rows
        )


def tile(html: str, testid: str) -> str:
    start = html.index(f'data-testid="{testid}">') + len(f'data-testid="{testid}">')
    return html[start : html.index("<", start)]


def rows_of(resp: Any) -> list[list[str]]:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(resp.get_data(as_text=True))))


def test_drill_down_from_all_areas_to_a_village(
    app: Flask, client: FlaskClient, surveyed: dict[str, Any]
) -> None:
    sign_in(app, client)
    top = client.get("/console/analytics").get_data(as_text=True)
    assert tile(top, "households") == "29"
    everyone = expected(app, ["Ahero", "Kombewa", "Katito", "Shinyalu"])
    assert tile(top, "mpi") == f"{float(everyone.mpi):.3f}"
    assert tile(top, "headcount") == f"{float(everyone.headcount) * 100:.1f}%"
    with app.app_context():
        nyanza = db_session().scalars(select(Area).where(Area.name == "Nyanza")).one().id
    assert f'href="/console/analytics/{nyanza}?round={surveyed["round"]}"' in top
    assert 'data-testid="chart-areas"' in top and 'data-testid="chart-water"' in top
    province = client.get(f"/console/analytics/{nyanza}").get_data(as_text=True)
    assert tile(province, "households") == "23"  # Kisumu's 23; Siaya has none
    assert ">Kisumu</a>" in province and ">Siaya</a>" in province
    county = client.get(f"/console/analytics/{surveyed['Kisumu']}").get_data(as_text=True)
    kisumu = expected(app, ["Ahero", "Kombewa", "Katito"])
    assert tile(county, "mpi") == f"{float(kisumu.mpi):.3f}"
    assert 'data-testid="trail"' in county and ">Nyanza</a>" in county
    village = client.get(f"/console/analytics/{surveyed['Ahero']}").get_data(as_text=True)
    assert tile(village, "households") == "12"
    assert 'data-testid="table-areas"' not in village  # nothing below a village
    for table in ("indicators", "guarantees", "water", "fies", "hardship", "change"):
        assert f'data-testid="table-{table}"' in village
    empty = client.get(f"/console/analytics/{surveyed['Siaya']}").get_data(as_text=True)
    assert 'data-testid="no-surveys"' in empty


def test_csv_exports_suppress_small_cells(
    app: Flask, client: FlaskClient, surveyed: dict[str, Any]
) -> None:
    sign_in(app, client)
    rows = rows_of(client.get(f"/console/analytics/{surveyed['Kisumu']}/export/areas.csv"))
    assert rows[0][:3] == ["Village", "Households surveyed", "People"]
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["Katito"][1:] == ["<5"] + [""] * 7  # 3 households: suppressed whole
    assert by_name["Pap Onditi"][1] == "0"  # nobody: nothing to hide
    assert by_name["Ahero"][1] == "12"
    ahero = expected(app, ["Ahero"])
    assert by_name["Ahero"][3] == f"{float(ahero.headcount):.4f}"
    assert by_name["Ahero"][5] == f"{float(ahero.mpi):.4f}"
    assert by_name["Ahero"][2] == str(ahero.population)
    # In a table of one area, a figure resting on 1-4 households is left out.
    indicators = rows_of(
        client.get(f"/console/analytics/{surveyed['Ahero']}/export/indicators.csv")
    )
    assert indicators[0][1] == "Indicator" and len(indicators) == 11
    with app.app_context():
        row = db_session().get(AreaStatistic, (surveyed["round"], surveyed["Ahero"]))
        assert row is not None
        stored = analytics.AreaFigures(row.figures)
    for line in indicators[1:]:
        name = next(k for k, v in INDICATOR_NAMES.items() if v == line[1])
        basis = stored.count(f"censored:{name}")
        if 0 < basis < 5:
            assert line[4] == "" and line[5] == ""
        else:
            assert line[4] == f"{float(stored.censored(name) or 0):.4f}"


def test_every_village_export_and_its_audit(
    app: Flask, client: FlaskClient, surveyed: dict[str, Any]
) -> None:
    sign_in(app, client)
    rows = rows_of(client.get("/console/analytics/export/villages.csv"))
    assert rows[0][:4] == ["Province", "County", "Village", "Households surveyed"]
    with app.app_context():
        db = db_session()
        villages = db.scalars(select(Area).where(Area.level == AreaLevel.VILLAGE)).all()
        assert len(rows) - 1 == len(villages)
        event = db.scalars(select(AuditEvent).where(AuditEvent.action == "export.analytics")).one()
        assert event.subject_id == "all" and event.detail["table"] == "villages"
        assert event.detail["rows"] == len(villages)
    ahero = next(r for r in rows if r[2] == "Ahero")
    assert ahero[:4] == ["Nyanza", "Kisumu", "Ahero", "12"]


def test_a_supervisor_sees_only_their_areas(
    app: Flask, client: FlaskClient, surveyed: dict[str, Any]
) -> None:
    sign_in(app, client, ConsoleRole.SUPERVISOR, areas=("Kisumu",))
    top = client.get("/console/analytics").get_data(as_text=True)
    assert tile(top, "households") == "23"
    assert ">Kisumu</a>" in top and "Kakamega" not in top
    assert client.get(f"/console/analytics/{surveyed['Ahero']}").status_code == 200
    for other in (surveyed["Kakamega"], surveyed["Shinyalu"], surveyed["Nyanza"]):
        assert client.get(f"/console/analytics/{other}").status_code == 404
        assert client.get(f"/console/analytics/{other}/export/areas.csv").status_code == 404
    rows = rows_of(client.get("/console/analytics/export/villages.csv"))
    assert sorted(r[2] for r in rows[1:]) == ["Ahero", "Katito", "Kombewa", "Pap Onditi"]


@pytest.mark.parametrize(
    "path",
    [
        "/console/analytics/99999999999",
        "/console/analytics/0",
        "/console/analytics/-1",
        "/console/analytics/abc",
        "/console/analytics?round=abc",
        "/console/analytics?round=99999",
        "/console/analytics?round=%00",
        "/console/analytics/export/nope.csv",
        "/console/analytics/export/..%2Fx.csv",
    ],
)
def test_odd_requests_are_404(
    app: Flask, client: FlaskClient, surveyed: dict[str, Any], path: str
) -> None:
    sign_in(app, client)
    resp = client.get(path)
    assert resp.status_code == 404
    assert 'data-testid="error-message"' in resp.get_data(as_text=True)  # the console's page
    assert resp.headers["X-Frame-Options"] == "DENY"


def test_no_surveys_yet_and_signed_out(app: Flask, client: FlaskClient) -> None:
    assert client.get("/console/analytics").status_code == 302
    sign_in(app, client)
    page = client.get("/console/analytics")
    assert page.status_code == 200 and 'data-testid="no-surveys"' in page.get_data(as_text=True)


def test_flask_analytics_refresh(app: Flask, surveyed: dict[str, Any]) -> None:
    with app.app_context():
        db = db_session()
        db.execute(delete(AreaStatistic))
        db.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["analytics", "refresh"])
    assert result.exit_code == 0, result.output
    # 4 villages, 2 counties, 2 provinces (other rounds, if any, have no surveys)
    assert re.match(r"8 area rows over \d+ round\(s\) in \d+\.\d s\n$", result.output)
    result = runner.invoke(args=["analytics", "refresh", "--round", "nope"])
    assert result.exit_code == 1 and "no survey round named 'nope'" in result.output
    with app.app_context():
        row = db_session().get(AreaStatistic, (surveyed["round"], surveyed["Kisumu"]))
        assert row is not None and row.households == 23


def test_demo_households_are_surveyed_in_two_rounds(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "households", "--per-village", "3"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        db = db_session()
        villages = len(db.scalars(select(Area).where(Area.level == AreaLevel.VILLAGE)).all())
        assert result.output.startswith(f"demo households: {3 * villages} new")
        assert db.scalar(select(func.count()).select_from(HouseholdSurvey)) == 6 * villages
        latest = db.scalars(select(HouseholdSurvey).where(HouseholdSurvey.is_latest)).all()
        assert len(latest) == 3 * villages
        current = surveys.current_round_id(db)
        assert {s.round_id for s in latest} == {current}
        top = analytics.AreaFigures({})
        rows = db.scalars(
            select(AreaStatistic).where(
                AreaStatistic.round_id == current, AreaStatistic.parent_id.is_(None)
            )
        ).all()
        figures: dict[str, list[int]] = {}
        for row in rows:
            analytics.add(figures, row.figures)
        top = analytics.AreaFigures(figures)
        assert top.households == 3 * villages and top.count("both_rounds") == 3 * villages
        assert top.count("left_poverty") > 0 and 0 < top.count("poor") < top.households
    again = runner.invoke(args=["demo", "households"])
    assert again.output.startswith("demo households: 0 new")  # idempotent
    with app.app_context():  # the households go with the next test; the round too
        db = db_session()
        db.execute(delete(AreaStatistic))
        db.execute(delete(HouseholdSurvey))
        db.execute(delete(Household))
        db.execute(delete(SurveyRound).where(SurveyRound.name == "2025"))
        db.commit()


def test_tables_about_an_area_under_five_households_export_no_figure(
    app: Flask, client: FlaskClient, surveyed: dict[str, Any]
) -> None:
    sign_in(app, client)
    for table in ("indicators", "guarantees", "water", "fies", "hardship", "change"):
        rows = rows_of(client.get(f"/console/analytics/{surveyed['Katito']}/export/{table}.csv"))
        assert len(rows) > 2
        labels = 3 if table == "indicators" else 1  # dimension, indicator, weight
        numbers = [cell for row in rows[1:] for cell in row[labels:]]
        assert numbers and all(cell == "" for cell in numbers), (table, rows)
    water = rows_of(client.get(f"/console/analytics/{surveyed['Kisumu']}/export/water.csv"))
    for row in water[1:]:  # 23 households: a level with 1-4 shows <5 and no people
        if row[1] == "<5":
            assert row[2] == "" and row[3] == ""


def test_csv_file_names_are_ascii_and_name_the_round(
    app: Flask, client: FlaskClient, surveyed: dict[str, Any]
) -> None:
    sign_in(app, client)
    with app.app_context():
        db = db_session()
        db.get(Area, surveyed["Kisumu"]).name = "基苏木 Kisumu"  # type: ignore[union-attr]
        db.commit()
    try:
        resp = client.get(f"/console/analytics/{surveyed['Kisumu']}/export/areas.csv")
        assert resp.status_code == 200
        disposition = resp.headers["Content-Disposition"]
        assert disposition.startswith('attachment; filename="ngazi-areas-kisumu-2026-')
    finally:
        with app.app_context():
            db = db_session()
            db.get(Area, surveyed["Kisumu"]).name = "Kisumu"  # type: ignore[union-attr]
            db.commit()
