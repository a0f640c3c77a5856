"""Campaign SMS templates: placeholders, validation, rendering per language."""

from __future__ import annotations

import pytest

from domain.sms_templates import (
    RECIPIENT_FIELDS,
    TemplateError,
    placeholders,
    render,
    validate,
)

VARIABLES = {"closing_date": "2026-12-15", "job": "Road works", "amount": "KES 3,000"}


def test_placeholders_in_order_each_once() -> None:
    template = "{village}: {job} by {closing_date}. {job} pays {amount} in {county}."
    assert placeholders(template) == ["village", "job", "closing_date", "amount", "county"]
    assert placeholders("No placeholders, {{literal}} braces.") == []
    assert placeholders("") == []
    assert placeholders("{a_1}{_b}") == ["a_1", "_b"]
    assert RECIPIENT_FIELDS == ("village", "county")


@pytest.mark.parametrize(
    ("template", "placeholder", "says"),
    [
        ("Pay {amount.value}", "{amount.value}", "attribute and index access"),
        ("Pay {amount[0]}", "{amount[0]}", "attribute and index access"),
        ("Pay {amount!r}", "{amount!r}", "conversions are not allowed"),
        ("Pay {amount:>10}", "{amount:>10}", "format specs are not allowed"),
        ("Pay {}", "{}", "has no name"),
        ("Pay {0}", "{0}", "has no name"),
        ("Pay {Amount}", "{Amount}", "lower-case letters"),
        ("Pay {1st}", "{1st}", "lower-case letters"),
        ("Pay { amount}", "{ amount}", "lower-case letters"),
        ("Pay {montant_é}", "{montant_é}", "lower-case letters"),
        ("Pay {amount-due}", "{amount-due}", "lower-case letters"),
    ],
)
def test_placeholder_errors_name_the_placeholder(
    template: str, placeholder: str, says: str
) -> None:
    with pytest.raises(TemplateError) as raised:
        placeholders(template)
    assert raised.value.placeholder == placeholder
    assert placeholder in str(raised.value) and says in str(raised.value)
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("Pay {amount", "unclosed '{' at character 5"),
        ("Pay amount}", "single '}' at character 11"),
        ("Pay {amount}}", "single '}' at character 13"),
        ("{{amount}", "single '}' at character 9"),
        ("Pay {amount!}", "malformed placeholder"),
    ],
)
def test_unbalanced_braces(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        placeholders(template)


def test_validate_accepts_recipient_fields_and_declared_variables() -> None:
    template = "{village}, {county}: {job} until {closing_date}, {amount}"
    assert validate(template, VARIABLES) is None  # raises TemplateError when it refuses
    assert placeholders(template) == ["village", "county", "job", "closing_date", "amount"]
    assert validate("Nothing to fill", {}) is None
    assert placeholders("Nothing to fill") == []


def test_validate_names_an_unknown_placeholder() -> None:
    with pytest.raises(TemplateError) as raised:
        validate("Apply by {deadline}", VARIABLES)
    assert raised.value.placeholder == "{deadline}"
    assert str(raised.value) == (
        "unknown placeholder {deadline}: not a recipient field (village, county) "
        "nor a campaign variable (amount, closing_date, job)"
    )


def test_validate_rejects_a_variable_named_like_a_recipient_field() -> None:
    with pytest.raises(TemplateError, match=r"\{village\}"):
        validate("Hello {village}", {"village": "Everywhere"})


def test_validate_checks_the_syntax_too() -> None:
    with pytest.raises(TemplateError, match=r"\{job!s\}"):
        validate("{job!s}", VARIABLES)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        # Babel 2.19 / CLDR "medium" dates, as each locale writes them.
        ("en", "Apply for Road works by Dec 15, 2026."),
        ("sw", "Apply for Road works by 15 Des 2026."),
        ("fr", "Apply for Road works by 15 déc. 2026."),
        ("zh", "Apply for Road works by 2026年12月15日."),
    ],
)
def test_iso_dates_in_the_recipients_language(language: str, expected: str) -> None:
    template = "Apply for {job} by {closing_date}."
    assert render(template, language, variables=VARIABLES, village=None, county=None) == expected


def test_only_a_real_iso_date_is_formatted() -> None:
    variables = {"a": "2026-13-45", "b": "15/12/2026", "c": "2026-12-15 09:00", "d": "20261215"}
    out = render("{a} {b} {c} {d}", "en", variables=variables, village=None, county=None)
    assert out == "2026-13-45 15/12/2026 2026-12-15 09:00 20261215"


def test_an_unknown_language_leaves_the_date_as_written() -> None:
    out = render("{closing_date}", "xx", variables=VARIABLES, village=None, county=None)
    assert out == "2026-12-15"


def test_recipient_fields_and_unicode_village_names() -> None:
    template = "Habari {village} ({county}): {amount}."
    for village, county in [
        ("Ngʼambo", "Kakamega"),
        ("Kaṭuṛa", "Kilifi"),
        ("Thiès", "Thiès"),
        ("李家村", "陇南"),
        ("Gûrî 🌽", "Mêru"),
    ]:
        out = render(template, "sw", variables=VARIABLES, village=village, county=county)
        assert out == f"Habari {village} ({county}): KES 3,000."


def test_a_missing_village_leaves_no_doubled_space() -> None:
    def r(template: str, village: str | None = None, county: str | None = "Kakamega") -> str:
        return render(template, "en", variables=VARIABLES, village=village, county=county)

    assert r("Meeting in {village} today") == "Meeting in today"
    assert r("Hello {village}!") == "Hello!"
    assert r("{village} {county}: water meeting") == "Kakamega: water meeting"
    assert r("News for {village}\n{village} {county}") == "News for\nKakamega"
    assert r("Meeting in {village} {county} today", county=None) == "Meeting in today"
    assert r("Meeting in {village} today", village="") == "Meeting in today"
    # Spaces the template wrote itself stay when every field has a value.
    assert r("Two  spaces {village}", village="Bura") == "Two  spaces Bura"


def test_braces_escape() -> None:
    out = render(
        "Reply {{YES}} for {job} in {village}.",
        "en",
        variables=VARIABLES,
        village="Bura",
        county=None,
    )
    assert out == "Reply {YES} for Road works in Bura."
    assert render("}}{{", "en", variables={}, village=None, county=None) == "}{"


def test_values_are_never_read_as_templates() -> None:
    out = render(
        "{job} in {village}",
        "en",
        variables={"job": "{amount} {0!r} %(x)s"},
        village="{county}",
        county="Kilifi",
    )
    assert out == "{amount} {0!r} %(x)s in {county}"


def test_a_value_holding_nul_is_not_taken_for_an_empty_placeholder() -> None:
    # Found by tests/test_properties_text.py: NUL marked the empty placeholders,
    # so a value's own NUL was closed up with them ("a\x00b" came out "ab").
    out = render(
        "{job} in {village}.", "en", variables={"job": "a\x00b"}, village=None, county=None
    )
    assert out == "a\x00b in."


def test_render_raises_only_for_the_template() -> None:
    with pytest.raises(TemplateError, match=r"\{deadline\}"):
        render("by {deadline}", "en", variables=VARIABLES, village=None, county=None)
    with pytest.raises(TemplateError):
        render("by {job", "en", variables=VARIABLES, village=None, county=None)


def test_parsing_and_dates_are_cached() -> None:
    from domain import sms_templates

    template = "Cached {job} by {closing_date} in {village}"
    for _ in range(3):
        render(template, "fr", variables=VARIABLES, village="Bura", county=None)
    parse_info = sms_templates._parse.cache_info()
    value_info = sms_templates._value.cache_info()
    render(template, "fr", variables=VARIABLES, village="Bura", county=None)
    assert sms_templates._parse.cache_info().hits == parse_info.hits + 1
    assert sms_templates._value.cache_info().hits == value_info.hits + 2
    assert sms_templates._parse.cache_info().misses == parse_info.misses
