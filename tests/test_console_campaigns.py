"""``/console/campaigns``: the form makes drafts (once per submit), the page shows
what ``domain.campaigns`` says, and its buttons steer a campaign as the CLI does."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from freezegun import freeze_time
from sqlalchemy import func, select, update

from app.db import db_session
from domain import campaigns
from domain.campaigns import Audience
from domain.subscribers import get_or_create_subscriber, set_home_area, set_language
from models import Area, Campaign, CampaignStatus, ConsoleRole, OutboundSms, SmsStatus
from tests.jobs import run_jobs
from tests.test_console_auth import PASSWORD, csrf_token, login, make_user

PRICE = "KES 0.80"


def _area(name: str) -> int:
    found = db_session().scalar(select(Area.id).where(Area.name == name))
    assert found is not None
    return found


def _people(app: Flask) -> None:
    """Three subscribers in Ahero (Kisumu): two English, one Kiswahili."""
    with app.app_context():
        db = db_session()
        for i, language in enumerate(["en", "en", "sw"]):
            msisdn = f"+25471190000{i}"
            sid, _ = get_or_create_subscriber(db, msisdn)
            set_home_area(db, msisdn, _area("Ahero"))
            set_language(db, sid, language)
        db.commit()


def _signed_in(app: Flask, client: FlaskClient, role: ConsoleRole = ConsoleRole.OPERATOR) -> None:
    areas = ["Kisumu"] if role is ConsoleRole.SUPERVISOR else []
    make_user(app, "otieno", name="Otieno Ouma", role=role, areas=areas)
    assert login(client, "otieno", PASSWORD).status_code == 302


def _form(client: FlaskClient, **fields: Any) -> dict[str, Any]:
    """The new-campaign form as first shown (CSRF token, dedup key), with ``fields``."""
    page = client.get("/console/campaigns/new").get_data(as_text=True)
    dedup = re.search(r'name="dedup" type="hidden" value="([0-9a-f]{32})"', page)
    assert dedup, page
    with client.application.app_context():
        kisumu = _area("Kisumu")
    form: dict[str, Any] = {
        "csrf_token": csrf_token(page),
        "dedup": dedup.group(1),
        "name": "Water",
        "text_en": "Boil water in {village} until {until}.",
        "text_sw": "Chemsha maji {village} hadi {until}.",
        "areas": [str(kisumu)],
        "variables": "until=2026-12-18",
        "when": "now",
        "spread_hours": "0",
        "quiet_hours": "none",
        "create": "1",
    }
    form.update(fields)
    return form


def _campaign(app: Flask, **kwargs: Any) -> int:
    args: dict[str, Any] = {
        "name": "Meeting",
        "messages": {"en": "Meeting in {village} on Friday.", "sw": "Mkutano {village} Ijumaa."},
        "quiet_hours": None,
    }
    with app.app_context():
        args.update(kwargs)
        if "audience" not in kwargs:
            args["audience"] = Audience(areas=(_area("Ahero"),))
        campaign = campaigns.create_campaign(db_session(), **args)
        db_session().commit()
        return campaign.id


def _post(client: FlaskClient, path: str, **form: str) -> Any:
    token = csrf_token(client.get("/console/campaigns").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **form})


def _flash(client: FlaskClient, resp: Any) -> str:
    assert resp.status_code == 302, resp.get_data(as_text=True)
    page = client.get(resp.location).get_data(as_text=True)
    found = re.search(r'<p class="notice" role="status">([^<]*)</p>', page)
    assert found, page
    return html.unescape(found.group(1))


def _status(app: Flask, campaign_id: int) -> CampaignStatus:
    with app.app_context():
        status = db_session().scalar(select(Campaign.status).where(Campaign.id == campaign_id))
        assert status is not None
        return status


def _testid(page: str, name: str) -> str:
    found = re.search(rf'data-testid="{name}">([^<]*)<', page)
    assert found, name
    return html.unescape(found.group(1))


# -- creating ---------------------------------------------------------------------------


def test_the_form_makes_one_draft_even_when_submitted_twice(
    app: Flask, client: FlaskClient
) -> None:
    _signed_in(app, client)
    form = _form(client)

    first = client.post("/console/campaigns/new", data=form)
    again = client.post("/console/campaigns/new", data=form)

    assert first.status_code == again.status_code == 302
    assert first.location == again.location
    campaign_id = int(first.location.rsplit("/", 1)[1])
    with app.app_context():
        db = db_session()
        assert db.scalar(select(func.count()).select_from(Campaign)) == 1
        c = db.get(Campaign, campaign_id)
        assert c is not None
        assert (c.status, c.created_via, c.name) == (CampaignStatus.DRAFT, "console", "Water")
        assert c.messages == {
            "en": "Boil water in {village} until {until}.",
            "sw": "Chemsha maji {village} hadi {until}.",
        }
        assert c.audience["areas"] == [_area("Kisumu")] and c.audience["rule"] is None
        assert c.variables == {"until": "2026-12-18"}
        assert (c.quiet_start, c.quiet_end, c.timezone) == (None, None, "Africa/Nairobi")
        assert c.dedup_key == f"console:{form['dedup']}"
    assert _flash(client, first) == (
        f"Campaign {campaign_id} saved as a draft. Check the preview, then send it."
    )


def test_the_form_offers_areas_languages_topics_templates_and_default_quiet_hours(
    app: Flask, client: FlaskClient
) -> None:
    _signed_in(app, client)
    page = html.unescape(client.get("/console/campaigns/new").get_data(as_text=True))

    assert ">Nyanza / Kisumu</option>" in page and ">Kisumu / Ahero</option>" in page
    assert 'value="health"' in page and 'value="sw"' in page
    assert ">safe-water: Safe water advice</option>" in page
    assert 'name="quiet_hours" type="text" value="20:00-07:00"' in page


def test_a_template_fills_the_texts_rule_and_variables(app: Flask, client: FlaskClient) -> None:
    _signed_in(app, client)
    with app.app_context():
        template = next(
            t for t in campaigns.approved_templates(db_session()) if t.slug == "school-bursary"
        )
        template_id, english = template.id, template.messages["en"]
    form = _form(client, template=str(template_id), use_template="1")
    del form["create"]

    filled = client.post("/console/campaigns/new", data=form)

    page = html.unescape(filled.get_data(as_text=True))
    assert filled.status_code == 200
    assert english in page
    assert '{"field": "children_out_of_school", ">=": 1}' in page
    assert "closing_date=2026-12-18" in page
    with app.app_context():
        assert db_session().scalar(select(func.count()).select_from(Campaign)) == 0


def test_errors_are_shown_next_to_the_form_with_the_input_kept(
    app: Flask, client: FlaskClient
) -> None:
    _signed_in(app, client)
    cases = [
        ({"text_en": ""}, "write the English text"),
        ({"rule": "{not json"}, "the eligibility rule is not JSON"),
        ({"rule": '{"field": "no_such_field", "is": true}'}, "audience rule:"),
        ({"when": "at", "send_at": "2020-01-01T09:00"}, "the send time 2020-01-01 09:00"),
        ({"when": "at", "send_at": ""}, "give the local send time"),
        ({"quiet_hours": "8pm-7am"}, "quiet hours '8pm-7am' are not like 20:00-07:00"),
        ({"variables": "novalue"}, "variables, line 1: 'novalue' is not NAME=VALUE"),
        ({"text_en": "Hi {nobody}"}, "en text:"),
    ]
    for fields, message in cases:
        resp = client.post("/console/campaigns/new", data=_form(client, **fields))
        page = resp.get_data(as_text=True)
        assert resp.status_code == 400, fields
        assert message in _testid(page, "form-error"), (fields, _testid(page, "form-error"))
        assert 'name="name" required type="text" value="Water"' in page
        assert "Chemsha maji {village} hadi {until}." in page
    with app.app_context():
        assert db_session().scalar(select(func.count()).select_from(Campaign)) == 0


# -- the campaign page ------------------------------------------------------------------------


def test_the_page_shows_the_preview_domain_campaigns_computes(
    app: Flask, client: FlaskClient
) -> None:
    _people(app)
    _signed_in(app, client)
    campaign_id = _campaign(
        app,
        messages={
            "en": "Naïve advice for {village}: boil drinking water, or treat it with the free "
            "chlorine tablets from the clinic.",
            "sw": "Chemsha maji {village}.",
        },
        variables={},
    )
    with app.app_context():
        db = db_session()
        c = db.get(Campaign, campaign_id)
        assert c is not None
        expected = campaigns.preview(db, c, PRICE)

    page = html.unescape(client.get(f"/console/campaigns/{campaign_id}").get_data(as_text=True))

    assert _testid(page, "preview-recipients") == str(expected.recipients) == "3"
    assert _testid(page, "preview-sms") == str(expected.sms)
    assert _testid(page, "preview-cost") == f"KES {expected.cost}" == "KES 4.00"
    for lp in expected.languages:
        row = re.search(rf'<tr data-language="{lp.language}">(.*?)</tr>', page, re.S)
        assert row, lp.language
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", row.group(1))
        assert cells[1:5] == [str(lp.recipients), str(lp.parts), lp.encoding, str(lp.sms)]
        assert lp.sample in page
    en = expected.languages[0]
    assert (en.encoding, en.parts) == ("UCS-2", 2)
    assert en.warning and "ï (U+00EF)" in en.warning
    assert _testid(page, "warning-en") == f"⚠ {en.warning}"
    assert "Areas: Kisumu / Ahero" in page and "Topics: any (no topic filter)" in page
    assert 'data-testid="send">Send now<' in page
    assert 'data-stage="queued">0<' in page  # the funnel, as of page load


def test_send_starts_the_campaign_as_the_cli_does(app: Flask, client: FlaskClient) -> None:
    _people(app)
    _signed_in(app, client)
    campaign_id = _campaign(app)

    sent = _post(client, f"/console/campaigns/{campaign_id}/send")

    assert _flash(client, sent) == f"Campaign {campaign_id} scheduled now."
    run_jobs(app)
    assert _status(app, campaign_id) is CampaignStatus.DONE
    with app.app_context():
        rows = db_session().scalars(
            select(OutboundSms.msisdn).where(OutboundSms.campaign_id == campaign_id)
        )
        assert sorted(rows) == [f"+25471190000{i}" for i in range(3)]
        c = db_session().get(Campaign, campaign_id)
        assert c is not None and c.estimate is not None and c.estimate["recipients"] == 3
    page = client.get(f"/console/campaigns/{campaign_id}").get_data(as_text=True)
    assert "Estimate when sent" in page and 'data-testid="send"' not in page
    again = _post(client, f"/console/campaigns/{campaign_id}/send")
    assert _flash(client, again) == f"Not sent: campaign {campaign_id} is done, not a draft."
    listed = client.get("/console/campaigns").get_data(as_text=True)
    row = re.search(rf'<tr data-campaign="{campaign_id}">(.*?)</tr>', listed, re.S)
    assert row
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    assert cells[4:] == ["3", "3", "0", "0"]  # recipients, sent, delivered, failed


def test_nobody_to_send_to_is_refused(app: Flask, client: FlaskClient) -> None:
    _signed_in(app, client)
    campaign_id = _campaign(app)

    resp = _post(client, f"/console/campaigns/{campaign_id}/send")

    assert _flash(client, resp) == "Not sent: the audience has no recipients."
    assert _status(app, campaign_id) is CampaignStatus.DRAFT


def test_pause_resume_and_cancel_and_their_refusals(app: Flask, client: FlaskClient) -> None:
    _people(app)
    _signed_in(app, client)
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    campaign_id = _campaign(app, send_at_local=tomorrow.replace(tzinfo=None, microsecond=0))
    base = f"/console/campaigns/{campaign_id}"
    assert _flash(client, _post(client, f"{base}/pause")) == (
        "Only a scheduled or sending campaign can be paused."
    )
    assert "scheduled for" in _flash(client, _post(client, f"{base}/send"))
    assert _status(app, campaign_id) is CampaignStatus.SCHEDULED

    assert _flash(client, _post(client, f"{base}/pause")) == (
        f"Campaign {campaign_id} paused: queued messages wait."
    )
    page = client.get(base).get_data(as_text=True)
    assert _testid(page, "status") == "paused"
    assert _testid(page, "status-reason") == "(paused by otieno)"
    assert _flash(client, _post(client, f"{base}/resume")) == f"Campaign {campaign_id} resumed."
    assert _status(app, campaign_id) is CampaignStatus.SCHEDULED
    assert _flash(client, _post(client, f"{base}/resume")) == "The campaign is not paused."

    assert _flash(client, _post(client, f"{base}/cancel")) == (
        "Not cancelled: tick the box to confirm."
    )
    assert _status(app, campaign_id) is CampaignStatus.SCHEDULED
    assert _flash(client, _post(client, f"{base}/cancel", confirm="yes")) == (
        f"Campaign {campaign_id} cancelled; 0 messages not sent."
    )
    assert _status(app, campaign_id) is CampaignStatus.CANCELLED
    assert _flash(client, _post(client, f"{base}/cancel", confirm="yes")) == (
        f"Not cancelled: campaign {campaign_id} is cancelled."
    )


def test_a_done_campaign_cannot_be_cancelled(app: Flask, client: FlaskClient) -> None:
    _people(app)
    _signed_in(app, client)
    campaign_id = _campaign(app)
    _post(client, f"/console/campaigns/{campaign_id}/send")
    run_jobs(app)

    resp = _post(client, f"/console/campaigns/{campaign_id}/cancel", confirm="yes")

    assert _flash(client, resp) == f"Not cancelled: campaign {campaign_id} is done."
    assert _status(app, campaign_id) is CampaignStatus.DONE


def test_funnel_json_counts_messages_and_failure_reasons(app: Flask, client: FlaskClient) -> None:
    _people(app)
    _signed_in(app, client)
    campaign_id = _campaign(app)
    _post(client, f"/console/campaigns/{campaign_id}/send")
    run_jobs(app)
    with app.app_context():
        db = db_session()
        first = db.scalar(
            select(func.min(OutboundSms.id)).where(OutboundSms.campaign_id == campaign_id)
        )
        db.execute(
            update(OutboundSms)
            .where(OutboundSms.id == first)
            .values(status=SmsStatus.FAILED, failure_reason="DeliveryFailure")
        )
        db.commit()

    data = client.get(f"/console/campaigns/{campaign_id}/funnel.json").get_json()

    assert data == {
        "id": campaign_id,
        "status": "done",
        "reason": None,
        "planned": 3,
        "planning_done": True,
        "total": 3,
        "final": True,
        "funnel": {
            "queued": 0,
            "sending": 0,
            "sent": 2,
            "delivered": 0,
            "failed": 1,
            "rejected": 0,
            "skipped": 0,
        },
        "failures": {"DeliveryFailure": 1},
    }
    page = client.get(f"/console/campaigns/{campaign_id}").get_data(as_text=True)
    assert 'data-stage="sent">2<' in page and "<li>DeliveryFailure: 1</li>" in page
    assert client.get("/console/campaigns/424242/funnel.json").status_code == 404


def test_polling_the_funnel_does_not_keep_an_idle_session_alive(
    app: Flask, client: FlaskClient
) -> None:
    campaign_id = _campaign(app)
    t0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    with freeze_time(t0) as clock:
        _signed_in(app, client)
        url = f"/console/campaigns/{campaign_id}/funnel.json"
        clock.tick(timedelta(minutes=20))
        assert client.get(url, headers={"X-Ngazi-Poll": "1"}).status_code == 200
        clock.tick(timedelta(minutes=15))  # 35 minutes since the person last did anything
        assert client.get(url, headers={"X-Ngazi-Poll": "1"}).status_code == 302


def test_the_list_is_newest_first_fifty_a_page(app: Flask, client: FlaskClient) -> None:
    _signed_in(app, client)
    ids = [_campaign(app, name=f"C{i}") for i in range(51)]

    first = client.get("/console/campaigns").get_data(as_text=True)
    second = client.get("/console/campaigns?page=2").get_data(as_text=True)

    shown = [int(i) for i in re.findall(r'<tr data-campaign="(\d+)">', first)]
    assert shown == sorted(ids, reverse=True)[:50]
    assert re.findall(r'<tr data-campaign="(\d+)">', second) == [str(ids[0])]
    assert "Page 1 of 2 (51 campaigns)" in first and "Older →" in first


# -- roles ---------------------------------------------------------------------------------------


def test_a_supervisor_watches_their_areas_campaigns_and_changes_nothing(
    app: Flask, client: FlaskClient
) -> None:
    _people(app)
    theirs = _campaign(app)  # Ahero, in Kisumu
    everywhere = _campaign(app, name="Everyone", audience=Audience())
    _signed_in(app, client, ConsoleRole.SUPERVISOR)

    listed = client.get("/console/campaigns").get_data(as_text=True)
    assert re.findall(r'<tr data-campaign="(\d+)">', listed) == [str(theirs)]
    assert "New campaign" not in listed
    page = client.get(f"/console/campaigns/{theirs}").get_data(as_text=True)
    assert _testid(page, "preview-recipients") == "3" and 'data-testid="send"' not in page
    assert client.get(f"/console/campaigns/{everywhere}").status_code == 404
    assert client.get("/console/campaigns/new").status_code == 403
    for action in ("send", "pause", "resume", "cancel"):
        resp = _post(client, f"/console/campaigns/{theirs}/{action}", confirm="yes")
        assert resp.status_code == 403, action
        assert "may watch campaigns but not create or change them" in resp.get_data(as_text=True)
    token = csrf_token(listed)
    resp = client.post("/console/campaigns/new", data={"csrf_token": token, "name": "X"})
    assert resp.status_code == 403
    assert _status(app, theirs) is CampaignStatus.DRAFT


def test_steering_needs_the_csrf_token(app: Flask, client: FlaskClient) -> None:
    _people(app)
    _signed_in(app, client)
    campaign_id = _campaign(app)

    assert client.post(f"/console/campaigns/{campaign_id}/send").status_code == 400
    assert _status(app, campaign_id) is CampaignStatus.DRAFT


def test_odd_numbers_in_the_address_or_form_are_no_500(app: Flask, client: FlaskClient) -> None:
    """ "²" is a digit to str.isdigit but not to int, and a number past 32 bits
    overflows the column: both are taken as no number."""
    _signed_in(app, client)
    for path in (
        "/console/campaigns?page=%C2%B2",
        "/console/campaigns?page=99999999999999999999",
        "/console/campaigns/new?template=%C2%B2",
        "/console/campaigns/new?template=99999999999999999999",
        "/console/campaigns/new?template=9999999999",
    ):
        assert client.get(path).status_code == 200, path
    resp = client.post(
        "/console/campaigns/new", data=_form(client, template="\u00b2", use_template="1")
    )
    assert resp.status_code == 400
    assert "Choose an approved template first." in resp.get_data(as_text=True)
    # A hidden key this form did not make (too long to store) makes a fresh one.
    resp = client.post("/console/campaigns/new", data=_form(client, dedup="z" * 500))
    assert resp.status_code == 302
    with app.app_context():
        [key] = db_session().scalars(select(Campaign.dedup_key)).all()
    assert key is None


def test_a_variable_needs_a_placeholder_name(app: Flask, client: FlaskClient) -> None:
    _signed_in(app, client)
    for name in ("k\x01ey", "<b>", "{x}", "9lives"):
        resp = client.post(
            "/console/campaigns/new",
            data=_form(client, variables=f"until=2026-12-18\n{name}=v"),
        )
        assert resp.status_code == 400, name
        assert "a name is letters, digits and _" in html.unescape(resp.get_data(as_text=True))
    with app.app_context():
        assert db_session().scalar(select(func.count()).select_from(Campaign)) == 0
