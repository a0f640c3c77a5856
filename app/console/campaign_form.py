"""The console's "new campaign" form: fields, choices, and what they become.

The form only reads what was typed; every business rule (a text in English,
known areas and topics, a valid eligibility rule, a send time not past, quiet
hours) is ``domain.campaigns.create_campaign``'s, whose ``CampaignError`` the
page shows next to the form.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Any

from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased
from wtforms import (
    DateTimeLocalField,
    FloatField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.console import row_id
from domain.campaigns import MAX_SPREAD_HOURS, Audience, CampaignError, approved_templates
from domain.subscribers import TOPICS
from domain.translation import LANGUAGES
from models import Area, AreaLevel, MessageTemplate

#: The languages a text may be written in, as the form names them (en first: required).
LANGUAGE_NAMES = {"en": "English", "sw": "Kiswahili", "fr": "Français", "zh": "中文"}
#: A text box holds at most this many characters (a 10-part UCS-2 SMS is 670).
MAX_TEXT = 1600
_UUID = re.compile(r"[0-9a-f]{32}")


class MultiCheckboxField(SelectMultipleField):  # type: ignore[misc]
    """A multiple choice shown as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class CampaignForm(FlaskForm):  # type: ignore[misc]
    name = StringField("Name", validators=[InputRequired(), Length(max=120)])
    text_en = TextAreaField("English text (required)", validators=[Length(max=MAX_TEXT)])
    text_sw = TextAreaField("Kiswahili text", validators=[Length(max=MAX_TEXT)])
    text_fr = TextAreaField("French text", validators=[Length(max=MAX_TEXT)])
    text_zh = TextAreaField("Chinese text", validators=[Length(max=MAX_TEXT)])
    template = SelectField("Approved template", choices=[], validate_choice=False)
    areas = SelectMultipleField("Areas", coerce=int, choices=[])
    languages = MultiCheckboxField("Languages", choices=[])
    topics = MultiCheckboxField("Topics", choices=[SelectChoice(t, t) for t in TOPICS])
    rule = TextAreaField("Eligibility rule (JSON)", validators=[Length(max=4000)])
    variables = TextAreaField("Variables (one NAME=VALUE a line)", validators=[Length(max=4000)])
    when = RadioField(
        "Send",
        choices=[SelectChoice("now", "When I press Send"), SelectChoice("at", "At")],
        default="now",
    )
    send_at = DateTimeLocalField(
        "Local send time", format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    spread_hours = FloatField(
        "Spread over (hours)",
        default=0.0,
        validators=[Optional(), NumberRange(min=0, max=MAX_SPREAD_HOURS)],
    )
    quiet_hours = StringField("Quiet hours (local, like 20:00-07:00, or none)")
    dedup = HiddenField()

    def fill_choices(self, db: Session) -> None:
        """Areas (counties and villages), languages and approved templates."""
        self.areas.choices = [SelectChoice(i, label) for i, label in area_choices(db)]
        self.languages.choices = [
            SelectChoice(code, LANGUAGE_NAMES.get(code, code)) for code in LANGUAGES
        ]
        self.template.choices = [SelectChoice("", "—")] + [
            SelectChoice(str(t.id), f"{t.slug}: {t.titles.get('en') or t.slug}")
            for t in approved_templates(db)
        ]

    def fill_from(self, template: MessageTemplate) -> None:
        """Put an approved template's texts, rule and variables in the form."""
        for code in LANGUAGE_NAMES:
            getattr(self, f"text_{code}").data = template.messages.get(code, "")
        self.rule.data = json.dumps(template.eligibility) if template.eligibility else ""
        self.variables.data = "\n".join(f"{k}={v}" for k, v in template.variables.items())
        self.template.data = str(template.id)

    def ensure_dedup(self) -> None:
        """A fresh key for this form's first showing; kept when it comes back."""
        if not self.dedup.data or not _UUID.fullmatch(self.dedup.data):
            self.dedup.data = uuid.uuid4().hex

    def campaign_args(self, db: Session) -> dict[str, Any]:
        """The keyword arguments of ``create_campaign`` (but ``created_via``).
        Raises ``CampaignError`` for what the form itself can tell is wrong."""
        messages = {
            code: text
            for code in LANGUAGE_NAMES
            if (text := (getattr(self, f"text_{code}").data or "").strip())
        }
        if "en" not in messages:
            raise CampaignError(
                "write the English text: recipients without a text of their language get it"
            )
        local: datetime | None = None
        if self.when.data == "at":
            if self.send_at.data is None:
                raise CampaignError("give the local send time, or choose to send when pressed")
            local = self.send_at.data
        template_id = None
        if self.template.data:
            number = row_id(self.template.data)
            template = db.get(MessageTemplate, number) if number is not None else None
            if template is None or not template.approved:
                raise CampaignError("that template is not (or no longer) approved")
            template_id = template.id
        return {
            "name": self.name.data or "",
            "messages": messages,
            "audience": Audience(
                areas=tuple(self.areas.data or ()),
                languages=tuple(self.languages.data or ()),
                topics=tuple(self.topics.data or ()),
                rule=parse_rule(self.rule.data),
            ),
            "default_language": "en",
            "variables": parse_variables(self.variables.data),
            "send_at_local": local,
            "spread_hours": float(self.spread_hours.data or 0.0),
            "quiet_hours": self.quiet_hours.data,
            "template_id": template_id,
            # Only a key this form made (a uuid): anything else could not be stored.
            "dedup_key": f"console:{self.dedup.data}"
            if self.dedup.data and _UUID.fullmatch(self.dedup.data)
            else None,
        }


def parse_rule(text: str | None) -> Any:
    """The rule box's JSON, or None when empty. Raises ``CampaignError``."""
    if not text or not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CampaignError(f"the eligibility rule is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise CampaignError("the eligibility rule is nested too deep") from exc


def parse_variables(text: str | None) -> dict[str, str]:
    """``"until=2026-12-18\\nplace=clinic"`` → a dict. Raises ``CampaignError``."""
    out: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise CampaignError(f"variables, line {number}: {line.strip()!r} is not NAME=VALUE")
        out[key.strip()] = value.strip()
    return out


def area_choices(db: Session) -> list[tuple[int, str]]:
    """Counties and villages, as "Province / County" and "County / Village": each
    county followed by its villages, counties by name."""
    parent = aliased(Area)
    rows = db.execute(
        select(Area.id, Area.level, Area.name, parent.name)
        .outerjoin(parent, parent.id == Area.parent_id)
        .where(Area.level.in_([AreaLevel.COUNTY, AreaLevel.VILLAGE]))
    ).all()

    def order(row: Any) -> tuple[str, str, str]:
        _, level, name, above = row
        if level is AreaLevel.COUNTY:
            return (name, "", above or "")
        return (above or "", name, "")

    return [
        (i, f"{above} / {name}" if above else name) for i, _, name, above in sorted(rows, key=order)
    ]
