"""XLSForms read into a ``Form`` (domain.xlsform) and run one answer at a time
(domain.surveys): the flow, skip logic, repeats, typed answers, and the shipped
household survey against what the classifier reads."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from domain import classification as cl
from domain.surveys import (
    HINT_ANSWER,
    HINT_CHOICE,
    HINT_CHOICES,
    HINT_DATE,
    HINT_INVALID,
    HINT_NUMBER,
    HINT_TEXT,
    MAX_REPEAT,
    Parsed,
    Position,
    finished,
    first_position,
    flow,
    next_position,
    parse_answer,
    previous_position,
    question_at,
    question_number,
    repeat_count,
    with_answer,
    zero_is_an_answer,
)
from domain.xlsform import Form, FormError, Question, Repeat, build_form, label, read_xlsform
from tests.factories import household, member

FORMS = Path(__file__).parent / "fixtures" / "forms"
HOUSEHOLD_XLSX = Path(__file__).resolve().parent.parent / "surveys" / "household.xlsx"
LANGUAGES = {"en", "sw", "fr", "zh"}


@pytest.fixture(scope="module")
def roster_definition() -> dict[str, Any]:
    return read_xlsform(FORMS / "roster.md")


@pytest.fixture(scope="module")
def roster(roster_definition: dict[str, Any]) -> Form:
    return build_form(roster_definition)


@pytest.fixture(scope="module")
def household_form() -> Form:
    return build_form(read_xlsform(HOUSEHOLD_XLSX))


def _parse(form: Form, name: str, text: str, **kw: Any) -> tuple[Any, str | None]:
    """``parse_answer`` for the question ``name`` (top level, or the first repeat instance)."""
    position: Position = [name]
    for node in form.children:
        if isinstance(node, Repeat) and name in {q.name for q in node.children}:
            position = [node.name, 0, name]
    kw.setdefault("answers", {})
    kw.setdefault("language", "en")
    kw.setdefault("fallback", "en")
    parsed = parse_answer(question_at(form, position), text, position=position, **kw)
    return parsed.value, parsed.hint


# -- reading a form ---------------------------------------------------------------------


def test_every_supported_type(roster: Form) -> None:
    assert (roster.form_id, roster.version, roster.title) == ("roster", "2024010101", "Roster")
    assert roster.default_language == "en"
    # The group's children are lifted to the top; pyxform's meta group is dropped.
    top = ["head", "has_kids", "n", "kid", "assets", "area", "built"]
    assert [n.name for n in roster.children] == top
    types = {name: q.type for name, q in roster.questions().items()}
    assert types == {
        "head": "text",
        "has_kids": "select_one",
        "n": "integer",
        "age": "integer",
        "school": "select_one",
        "assets": "select_multiple",
        "area": "decimal",
        "built": "date",
    }
    has_kids = roster.questions()["has_kids"]
    assert has_kids.yes_no and has_kids.list_name == "yes_no"
    assets = roster.questions()["assets"]
    assert not assets.yes_no
    assert [c.name for c in assets.choices] == ["radio", "phone", "bike"]
    assert assets.choices[2].labels == {"en": "Bicycle", "sw": "Baiskeli"}


def test_a_repeat_counts_an_earlier_answer(roster: Form) -> None:
    kid = roster.children[3]
    assert isinstance(kid, Repeat)
    assert kid.count == "${n}"
    assert kid.labels == {"en": "Child", "sw": "Mtoto"}
    assert [q.name for q in kid.children] == ["age", "school"]
    assert kid.children[1].relevant == "${age} >= 6"


def test_labels_in_two_languages_with_fallback(roster: Form) -> None:
    head, built = roster.questions()["head"], roster.questions()["built"]
    assert head.labels == {"en": "Name of the head", "sw": "Jina la mkuu"}
    assert label(head.labels, "sw", "en") == "Jina la mkuu"
    assert label(head.labels, "fr", "en") == "Name of the head"  # no French: the fallback
    assert built.labels == {"en": "When built?"}  # the Swahili cell is empty
    assert label(built.labels, "sw", "en") == "When built?"
    assert label(built.labels, "fr", "sw") == "When built?"  # neither: any there is
    assert label({}, "en", "en") == ""


def test_a_plain_label_column_is_the_default_language() -> None:
    form = build_form(
        {"children": [{"type": "text", "name": "head", "label": "Head"}], "id_string": "x"}
    )
    assert form.questions()["head"].labels == {"en": "Head"}
    assert (form.form_id, form.version) == ("x", "1")


def test_a_group_relevant_applies_to_its_children(roster: Form) -> None:
    area, built = roster.questions()["area"], roster.questions()["built"]
    assert area.relevant == "${has_kids} = 'no'"
    assert built.relevant == "(${has_kids} = 'no') and (${area} > 10)"


def test_constraints_and_messages(roster: Form) -> None:
    n, age = roster.questions()["n"], roster.questions()["age"]
    assert n.constraint == ". >= 1 and . <= 10"
    assert n.constraint_messages == {"en": "1 to 10", "sw": "1 hadi 10"}
    assert age.constraint_messages == {"en": "0 to 120"}


def test_required(roster: Form) -> None:
    questions = roster.questions()
    assert questions["area"].required is True  # "yes"
    assert questions["built"].required is False  # "no"


def test_an_empty_required_cell_means_optional_and_an_empty_reply_skips() -> None:
    form = build_form(
        {
            "id_string": "t",
            "children": [{"type": "text", "name": "nick", "label": "Nickname?", "bind": {}}],
        }
    )
    (nick,) = form.children
    assert isinstance(nick, Question) and nick.required is False
    parsed = parse_answer(nick, "  ", answers={}, position=["nick"], language="en", fallback="en")
    assert parsed == Parsed(value=None)
    assert finished(form, {"nick": None}) == {}


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("bad_geopoint.md", "question type 'geopoint' is not supported"),
        ("bad_note.md", "question type 'note' is not supported"),
        ("bad_repeat_without_count.md", "member: a repeat needs a repeat_count"),
        ("bad_unknown_reference.md", "agee"),
        ("bad_expression.md", "age: expected )"),
    ],
)
def test_forms_this_service_cannot_run(fixture: str, message: str) -> None:
    with pytest.raises(FormError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_xlsform(FORMS / fixture)


def test_build_form_checks_references_itself(roster_definition: dict[str, Any]) -> None:
    # pyxform catches an unknown ${name} in read_xlsform; a stored definition is
    # checked again when built.
    definition = copy.deepcopy(roster_definition)
    definition["children"][2]["bind"]["relevant"] = "${nobody} = 'yes'"
    with pytest.raises(FormError, match=r"n: unknown question\(s\) \['nobody'\]"):
        build_form(definition)
    definition = copy.deepcopy(roster_definition)
    definition["children"][3]["control"]["jr:count"] = "${kids}"
    with pytest.raises(FormError, match=r"kid: unknown question\(s\) \['kids'\]"):
        build_form(definition)
    definition = copy.deepcopy(roster_definition)
    definition["children"][5]["bind"]["relevant"] = "${has_kids} = "  # a group's relevant
    with pytest.raises(FormError, match="area: expected more"):
        build_form(definition)


def test_build_form_rejects_shapes_it_cannot_ask(roster_definition: dict[str, Any]) -> None:
    with pytest.raises(FormError, match="no questions"):
        build_form({"children": []})
    nested = copy.deepcopy(roster_definition)
    kid = nested["children"][3]
    kid["children"].append({**copy.deepcopy(kid), "name": "grandkid"})
    with pytest.raises(FormError, match="grandkid: a repeat inside a repeat is not supported"):
        build_form(nested)
    twice = copy.deepcopy(roster_definition)
    twice["children"].append(copy.deepcopy(twice["children"][0]))
    with pytest.raises(FormError, match="unique"):
        build_form(twice)
    no_choices = copy.deepcopy(roster_definition)
    no_choices["children"][1]["choices"] = []
    with pytest.raises(FormError, match="has_kids: no choices"):
        build_form(no_choices)
    no_label = copy.deepcopy(roster_definition)
    del no_label["children"][0]["label"]
    with pytest.raises(FormError, match="head: no label"):
        build_form(no_label)
    calculate = copy.deepcopy(roster_definition)
    calculate["children"][0]["type"] = "calculate"
    with pytest.raises(FormError, match="'calculate' is not supported"):
        build_form(calculate)


def test_a_repeat_relevant_is_checked_when_the_form_is_loaded() -> None:
    """BUG (domain/xlsform.py ``build_form``): a repeat's own ``relevant`` is never
    parsed at load time (only questions' relevant/constraint and the repeat's
    count are). Today this form loads, and ``flow(form, {"n": 2})`` then raises
    ``ExpressionError: expected more in '${n} >='`` — in a household."""
    with pytest.raises(FormError, match="member"):
        read_xlsform(FORMS / "bad_repeat_relevant_expression.md")


def test_uppercase_language_codes_are_read_as_their_language() -> None:
    """BUG (domain/xlsform.py ``_LANG_CODE``): the code is matched as ``[a-z]``
    only (then ``.lower()``-ed), so ``label::Kiswahili (SW)`` is read as the
    default language and silently replaces the English label."""
    form = build_form(read_xlsform(FORMS / "upper_language_codes.md"))
    assert form.questions()["head"].labels == {"en": "Name of the head", "sw": "Jina la mkuu"}


# -- the flow ------------------------------------------------------------------------------


TWO_KIDS: dict[str, Any] = {
    "head": "Akinyi",
    "has_kids": "yes",
    "n": 2,
    "kid": [{"age": 4}, {"age": 9, "school": "yes"}],
    "assets": ["radio"],
}


def test_flow_with_nothing_answered(roster: Form) -> None:
    # n is not relevant until has_kids is "yes"; the repeat counts an unanswered n as 0;
    # the house group's relevant is false while has_kids is unanswered.
    assert list(flow(roster, {})) == [["head"], ["has_kids"], ["assets"]]
    assert first_position(roster, {}) == ["head"]


def test_skip_logic_inside_a_repeat_reads_the_same_instance(roster: Form) -> None:
    assert list(flow(roster, TWO_KIDS)) == [
        ["head"],
        ["has_kids"],
        ["n"],
        ["kid", 0, "age"],  # 4: no school question
        ["kid", 1, "age"],
        ["kid", 1, "school"],  # 9 >= 6
        ["assets"],
    ]


def test_a_group_relevant_skips_its_children(roster: Form) -> None:
    answers = {"head": "A", "has_kids": "no", "assets": ["bike"]}
    assert list(flow(roster, answers)) == [["head"], ["has_kids"], ["assets"], ["area"]]
    answers["area"] = 12.5
    assert list(flow(roster, answers))[-2:] == [["area"], ["built"]]
    answers["area"] = 10.0
    assert list(flow(roster, answers))[-1] == ["area"]


def test_next_previous_and_number(roster: Form) -> None:
    a = TWO_KIDS
    assert next_position(roster, a, ["n"]) == ["kid", 0, "age"]
    assert next_position(roster, a, ["kid", 0, "age"]) == ["kid", 1, "age"]
    assert next_position(roster, a, ["kid", 1, "age"]) == ["kid", 1, "school"]
    assert next_position(roster, a, ["kid", 1, "school"]) == ["assets"]
    assert next_position(roster, a, ["assets"]) is None  # complete
    assert previous_position(roster, a, ["assets"]) == ["kid", 1, "school"]
    assert previous_position(roster, a, ["kid", 1, "age"]) == ["kid", 0, "age"]
    assert previous_position(roster, a, ["kid", 0, "age"]) == ["n"]
    assert previous_position(roster, a, ["head"]) is None
    assert question_number(roster, a, ["head"]) == 1
    assert question_number(roster, a, ["kid", 1, "school"]) == 6
    assert question_number(roster, a, ["assets"]) == 7


def test_changing_an_answer_changes_what_comes_next(roster: Form) -> None:
    answers = with_answer(TWO_KIDS, ["n"], 1)
    assert next_position(roster, answers, ["kid", 0, "age"]) == ["assets"]
    # On a question that has dropped out of the flow, next is the next one in order.
    assert next_position(roster, answers, ["kid", 1, "age"]) == ["assets"]
    assert previous_position(roster, answers, ["kid", 1, "school"]) == ["kid", 0, "age"]
    answers = {"head": "A", "has_kids": "no", "assets": ["bike"]}
    assert next_position(roster, answers, ["has_kids"]) == ["assets"]
    assert next_position(roster, answers, ["assets"]) == ["area"]


def test_repeat_count(roster: Form) -> None:
    kid = roster.children[3]
    assert isinstance(kid, Repeat)
    assert repeat_count(kid, {}) == 0
    assert repeat_count(kid, {"n": 3}) == 3
    assert repeat_count(kid, {"n": "3"}) == 3
    assert repeat_count(kid, {"n": 2.9}) == 2
    assert repeat_count(kid, {"n": 500}) == MAX_REPEAT == 30
    assert repeat_count(kid, {"n": -2}) == 0
    assert repeat_count(kid, {"n": "lots"}) == 0


def test_with_answer_copies_and_pads_repeat_instances() -> None:
    before = {"n": 3}
    after = with_answer(before, ["kid", 2, "age"], 7)
    assert after == {"n": 3, "kid": [{}, {}, {"age": 7}]}
    assert before == {"n": 3}
    again = with_answer(after, ["kid", 0, "age"], 1)
    assert again["kid"] == [{"age": 1}, {}, {"age": 7}]
    assert after["kid"][0] == {}  # a deep copy


def test_finished_keeps_what_the_flow_asks(roster: Form) -> None:
    assert finished(roster, TWO_KIDS) == TWO_KIDS


def test_fewer_instances_shrink_the_flow_and_finished_drops_the_rest(roster: Form) -> None:
    answers = with_answer(TWO_KIDS, ["n"], 1)
    assert list(flow(roster, answers)) == [
        ["head"],
        ["has_kids"],
        ["n"],
        ["kid", 0, "age"],
        ["assets"],
    ]
    done = finished(roster, answers)
    assert done["kid"] == [{"age": 4}]
    assert done == {**TWO_KIDS, "n": 1, "kid": [{"age": 4}]}


def test_finished_drops_irrelevant_answers(roster: Form) -> None:
    # The age changed to 5 after "school" was answered: school is no longer asked.
    answers = with_answer(TWO_KIDS, ["kid", 1, "age"], 5)
    assert finished(roster, answers)["kid"] == [{"age": 4}, {"age": 5}]
    # No children after all: n goes; the house is asked, and built only for area > 10.
    answers = {"head": "A", "has_kids": "no", "n": 0, "assets": [], "area": 8.0}
    answers["built"] = "2001-01-01"
    assert finished(roster, answers) == {"head": "A", "has_kids": "no", "assets": [], "area": 8.0}


def test_a_non_relevant_answer_drives_neither_relevance_nor_repeat_counts(
    roster: Form, household_form: Form
) -> None:
    """BUG (domain/surveys.py ``flow``/``finished``): an answer that is no longer
    relevant is dropped from the submission, but its stale value still counts in
    other questions' ``relevant`` and in ``repeat_count``.

    Household survey: a member entered as 30 (can work: yes; away: no), then
    corrected to 70. ``m_can_work`` is no longer asked and is dropped, yet
    ``m_away`` (relevant ``${m_can_work} = 'yes'``) is still asked of the
    70-year-old and kept. Roster fixture: has_kids changed to "no" after n=2 —
    ``n`` is dropped, yet the two children's ages are still asked and kept.
    """
    corrected = member(30)
    corrected["m_age"] = 70
    del corrected["m_undernourished"]
    answers = household(member(40), corrected, village="12")
    assert ["member", 1, "m_away"] not in list(flow(household_form, answers))
    assert "m_away" not in finished(household_form, answers)["member"][1]

    answers = with_answer(TWO_KIDS, ["has_kids"], "no")
    answers["area"] = 8.0
    assert list(flow(roster, answers)) == [["head"], ["has_kids"], ["assets"], ["area"]]
    assert "kid" not in finished(roster, answers)


def test_finished_names_a_required_question_unanswered(roster: Form) -> None:
    with pytest.raises(ValueError, match="unanswered: kid/1/school"):
        finished(roster, {**TWO_KIDS, "kid": [{"age": 4}, {"age": 9}]})
    with pytest.raises(ValueError, match="unanswered: head"):
        finished(roster, {k: v for k, v in TWO_KIDS.items() if k != "head"})
    # built is not required: relevant (area > 10) but unanswered is fine.
    answers = {"head": "A", "has_kids": "no", "assets": ["bike"], "area": 50.0}
    assert finished(roster, answers) == answers


# -- one typed answer ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "hint"),
    [
        ("42", 42, None),
        (" 7 ", 7, None),
        ("0", 0, None),
        ("120", 120, None),
        ("12a", None, HINT_NUMBER),
        ("abc", None, HINT_NUMBER),
        ("４２", None, HINT_NUMBER),  # full-width digits: not ASCII
        ("٤٢", None, HINT_NUMBER),  # Arabic-Indic digits
        ("4.5", None, HINT_NUMBER),  # an integer question
        ("1234567890", None, HINT_NUMBER),  # more than 9 digits
        ("121", None, "0 to 120"),  # the constraint's message
        ("-1", None, "0 to 120"),
        ("", None, HINT_ANSWER),
        ("   ", None, HINT_ANSWER),
    ],
)
def test_parse_integer(roster: Form, text: str, value: Any, hint: str | None) -> None:
    assert _parse(roster, "age", text) == (value, hint)


def test_constraint_message_in_the_callers_language(roster: Form) -> None:
    assert _parse(roster, "n", "11", language="sw") == (None, "1 hadi 10")
    assert _parse(roster, "n", "0", language="en") == (None, "1 to 10")
    assert _parse(roster, "n", "11", language="fr", fallback="sw") == (None, "1 hadi 10")
    assert _parse(roster, "age", "200", language="sw") == (None, "0 to 120")  # fallback
    assert _parse(roster, "n", "10", language="sw") == (10, None)


def test_a_constraint_without_a_message_says_invalid() -> None:
    form = build_form(
        {
            "children": [
                {"type": "integer", "name": "x", "label": "X", "bind": {"constraint": ". > 5"}}
            ]
        }
    )
    assert _parse(form, "x", "3") == (None, HINT_INVALID)
    assert _parse(form, "x", "6") == (6, None)


@pytest.mark.parametrize(
    ("text", "value", "hint"),
    [("12.5", 12.5, None), ("12,5", 12.5, None), ("3", 3.0, None), ("1.2.3", None, HINT_NUMBER)],
)
def test_parse_decimal(roster: Form, text: str, value: Any, hint: str | None) -> None:
    assert _parse(roster, "area", text) == (value, hint)


@pytest.mark.parametrize(
    ("text", "value", "hint"),
    [
        ("1", "yes", None),
        (" 2 ", "no", None),
        ("0", None, HINT_CHOICE),
        ("3", None, HINT_CHOICE),  # two choices
        ("-1", None, HINT_CHOICE),
        ("１", None, HINT_CHOICE),
        ("yes", None, HINT_CHOICE),
        ("1,2", None, HINT_CHOICE),
        ("", None, HINT_ANSWER),
    ],
)
def test_parse_select_one(roster: Form, text: str, value: Any, hint: str | None) -> None:
    assert _parse(roster, "has_kids", text) == (value, hint)


@pytest.mark.parametrize(
    ("text", "value", "hint"),
    [
        ("1,3", ["radio", "bike"], None),
        ("1 3", ["radio", "bike"], None),
        ("3,1", ["radio", "bike"], None),  # in the list's order
        ("1.2", ["radio", "phone"], None),
        ("2", ["phone"], None),
        (" 3 , 2 , 1 ", ["radio", "phone", "bike"], None),
        ("1,1", None, HINT_CHOICES),  # each once
        ("1,9", None, HINT_CHOICES),
        ("0", None, HINT_CHOICES),
        ("1,x", None, HINT_CHOICES),
        ("１,2", None, HINT_CHOICES),
        (",", None, HINT_CHOICES),
        ("", None, HINT_ANSWER),
    ],
)
def test_parse_select_multiple(roster: Form, text: str, value: Any, hint: str | None) -> None:
    assert _parse(roster, "assets", text) == (value, hint)


def test_select_multiple_constraint_sees_the_list(household_form: Form) -> None:
    none = str([c.name for c in household_form.questions()["assets"].choices].index("none") + 1)
    assert _parse(household_form, "assets", none) == (["none"], None)
    assert _parse(household_form, "assets", f"1,{none}") == (None, "None goes alone.")
    assert _parse(household_form, "assets", f"1,{none}", language="zh") == (
        None,
        "都没有时勿多选。",
    )


@pytest.mark.parametrize(
    ("text", "value", "hint"),
    [
        ("01022024", "2024-02-01", None),  # DDMMYYYY
        ("1/2/2024", "2024-02-01", None),
        ("1-2-2024", "2024-02-01", None),
        ("29022024", "2024-02-29", None),  # a leap year
        ("31022024", None, HINT_DATE),  # no such day
        ("29022023", None, HINT_DATE),
        ("01021800", None, HINT_DATE),  # before 1900
        ("01022101", None, HINT_DATE),  # after 2100
        ("1/13/2024", None, HINT_DATE),
        ("2024-02-01", None, HINT_DATE),  # day first
        ("0102202", None, HINT_DATE),
        ("０１０２２０２４", None, HINT_DATE),
    ],
)
def test_parse_date(roster: Form, text: str, value: Any, hint: str | None) -> None:
    answers = {"has_kids": "no", "area": 20.0}
    assert _parse(roster, "built", text, answers=answers) == (value, hint)


def test_parse_text(roster: Form) -> None:
    assert _parse(roster, "head", "  Mary \t  Atieno  ") == ("Mary Atieno", None)
    assert _parse(roster, "head", "A" * 80) == ("A" * 80, None)
    assert _parse(roster, "head", "A" * 81) == (None, HINT_TEXT)
    assert _parse(roster, "head", "A" + " " * 100 + "B") == ("A B", None)  # long only in spaces
    assert _parse(roster, "head", "A\x07B") == (None, HINT_INVALID)


def test_household_text_constraints(household_form: Form) -> None:
    assert _parse(household_form, "head_name", "A" * 21) == (None, "Enter 1 to 20 letters.")
    assert _parse(household_form, "head_name", "Wanjiru") == ("Wanjiru", None)
    answers = {"has_phone": "yes"}
    assert _parse(household_form, "head_phone", "+254700000101", answers=answers) == (
        "+254700000101",
        None,
    )
    assert _parse(household_form, "head_phone", "0700 12", answers=answers, language="sw") == (
        None,
        "Andika tarakimu 9-15.",
    )


def test_zero_is_an_answer(roster: Form, household_form: Form) -> None:
    def zero(form: Form, name: str) -> bool:
        q = form.questions()[name]
        position: Position = [name]
        for node in form.children:
            if isinstance(node, Repeat) and q in node.children:
                position = [node.name, 0, name]
        return zero_is_an_answer(q, {}, position)

    assert zero(roster, "age") is True  # 0-120
    assert zero(household_form, "m_age") is True  # 0-120
    assert zero(household_form, "meals") is True  # 0-9
    assert zero(roster, "n") is False  # 1-10
    assert zero(household_form, "members") is False  # 1-30
    assert zero(roster, "area") is True  # a decimal with no constraint
    assert zero(roster, "has_kids") is False
    assert zero(roster, "assets") is False
    assert zero(household_form, "water_source") is False
    assert zero(roster, "head") is False
    assert zero(roster, "built") is False


# -- the shipped household survey ------------------------------------------------------------

#: Every answer the classifier (domain.classification) and completion
#: (domain.households: village, head_name, head_phone, hardship) read.
CLASSIFIER_NAMES = {
    "village",
    "head_name",
    "head_phone",
    "members",
    "member",
    "m_age",
    "m_disability",
    "m_chronic",
    "m_insured",
    "m_in_school",
    "m_schooling",
    "m_undernourished",
    "m_can_work",
    "child_died",
    *cl.FIES_ITEMS,
    "meals",
    "water_source",
    "water_minutes",
    "toilet",
    "toilet_shared",
    "cooking_fuel",
    "electricity",
    "floor",
    "roof",
    "walls",
    "house_safe",
    "clothing",
    "assets",
    "hardship",
}

#: What the classifier accepts for each select question it validates.
CLASSIFIER_CHOICES: dict[str, frozenset[str]] = {
    "water_source": cl.WATER_IMPROVED | cl.WATER_UNIMPROVED | cl.WATER_SURFACE,
    "toilet": cl.TOILET_IMPROVED | cl.TOILET_UNIMPROVED | {"none"},
    "cooking_fuel": cl.FUELS,
    "floor": frozenset(cl.FLOORS),
    "roof": frozenset(cl.MATERIALS),
    "walls": frozenset(cl.MATERIALS),
    "assets": cl.ASSETS,
}
YES_NO = {
    "has_phone",
    "m_disability",
    "m_chronic",
    "m_insured",
    "m_in_school",
    "m_undernourished",
    "m_can_work",
    "child_died",
    *cl.FIES_ITEMS,
    "electricity",
    "toilet_shared",
    "house_safe",
    "clothing",
}


def test_household_form_identity(household_form: Form) -> None:
    assert household_form.form_id == "household"
    assert household_form.version == "2026112901"
    assert household_form.default_language == "en"
    member_repeat = next(n for n in household_form.children if n.name == "member")
    assert isinstance(member_repeat, Repeat) and member_repeat.count == "${members}"


def test_household_form_speaks_four_languages(household_form: Form) -> None:
    for node in household_form.children:
        assert set(node.labels) == LANGUAGES, node.name
        assert all(text.strip() for text in node.labels.values()), node.name
    for q in household_form.questions().values():
        assert set(q.labels) == LANGUAGES, q.name
        if q.constraint_messages:
            assert set(q.constraint_messages) == LANGUAGES, q.name
        if q.list_name != "cadre_villages":
            for c in q.choices:
                assert set(c.labels) == LANGUAGES, (q.name, c.name)


def test_household_form_has_every_name_the_classifier_reads(household_form: Form) -> None:
    names = set(household_form.questions()) | {
        n.name for n in household_form.children if isinstance(n, Repeat)
    }
    assert CLASSIFIER_NAMES - names == set()
    assert household_form.questions()["assets"].type == "select_multiple"
    assert household_form.questions()["village"].list_name == "cadre_villages"
    assert {"m_age", "members", "meals", "water_minutes", "m_schooling"} <= {
        q.name for q in household_form.questions().values() if q.type == "integer"
    }


def test_household_choices_are_what_the_classifier_accepts(household_form: Form) -> None:
    questions = household_form.questions()
    for name, accepted in CLASSIFIER_CHOICES.items():
        offered = {c.name for c in questions[name].choices}
        assert offered, name
        assert offered <= accepted, (name, offered - accepted)
    for name in YES_NO:
        assert questions[name].yes_no, name


@pytest.mark.parametrize("age", [0, 5, 6, 9, 10, 14, 15, 16, 40, 64, 65, 69, 70, 120])
def test_household_form_asks_what_the_classifier_reads_at_every_age(
    household_form: Form, age: int
) -> None:
    # The factory gives a member the keys the classifier reads at that age;
    # finished() fails on a required question missing and drops one not asked.
    young = member(age, m_in_school="no", m_can_work="no")
    answers = household(member(40), young, village="12")
    expected = member(age)
    for key in ("m_in_school", "m_can_work"):
        if key in expected:
            expected[key] = "no"
    expected.pop("m_away", None)  # asked only of a member who can work
    done = finished(household_form, answers)
    assert done["member"][1] == expected
    result = cl.classify(done)
    assert result.children_6_15_out_of_school == (1 if 6 <= age <= 15 else 0)


@pytest.mark.parametrize("source", ["piped_dwelling", "public_tap", "unprotected_well", "surface"])
def test_household_form_and_classifier_agree_on_water(household_form: Form, source: str) -> None:
    answers = household(water_source=source, water_minutes=45, village="12")
    done = finished(household_form, answers)
    assert ("water_minutes" in done) is (source != "piped_dwelling")
    expected = {
        "piped_dwelling": "basic",
        "public_tap": "limited",
        "unprotected_well": "unimproved",
        "surface": "surface_water",
    }[source]
    assert cl.classify(done).water_level == expected


def test_household_question_types(household_form: Form) -> None:
    q: Question = household_form.questions()["m_age"]
    assert (q.type, q.constraint) == ("integer", ". >= 0 and . <= 120")
    assert household_form.questions()["m_in_school"].relevant == "${m_age} >= 6 and ${m_age} <= 15"
