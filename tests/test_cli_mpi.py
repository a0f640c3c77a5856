"""``flask mpi FILE.csv [--k]``: JSON out for good files, a clear error for bad ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask

from domain.mpi import INDICATORS

EXAMPLE = Path(__file__).parent / "fixtures" / "mpi-hdr2010-example.csv"


def _run(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["mpi", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_hdr_2010_example(app: Flask) -> None:
    code, out = _run(app, str(EXAMPLE))

    assert code == 0, out
    data = json.loads(out)
    assert data["k"] == {"exact": "1/3", "float": 1 / 3}
    assert (data["population"], data["poor_population"]) == (20, 16)
    assert data["H"] == {"exact": "4/5", "float": 0.8}
    assert data["A"] == {"exact": "9/16", "float": 0.5625}
    assert data["MPI"] == {"exact": "9/20", "float": 0.45}
    assert list(data["indicators"]) == list(INDICATORS)
    assert data["indicators"]["electricity"] == {
        "weight": {"exact": "1/18", "float": 1 / 18},
        "censored_headcount": {"exact": "4/5", "float": 0.8},
        "contribution_pct": {"exact": "800/81", "float": 800 / 81},
    }
    first = data["households"][0]
    assert first == {
        "household_id": "1",
        "size": 4,
        "score": {"exact": "2/9", "float": 2 / 9},
        "censored_score": {"exact": "0", "float": 0.0},
        "poor": False,
        "vulnerable": True,
        "severe": False,
    }
    assert [h["severe"] for h in data["households"]] == [False, True, False, True]


@pytest.mark.parametrize("k", ["1/2", "0.5"])
def test_k_override(app: Flask, k: str) -> None:
    code, out = _run(app, str(EXAMPLE), "--k", k)

    assert code == 0, out
    data = json.loads(out)
    # Households 2 (13/18) and 4 (1/2) stay poor; 3 (7/18) drops out.
    assert data["k"]["exact"] == "1/2"
    assert data["H"]["exact"] == "11/20"
    assert [h["poor"] for h in data["households"]] == [False, True, False, True]


def test_nobody_poor_gives_null_contributions(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "none.csv"
    path.write_text("household_id,size," + ",".join(INDICATORS) + "\na,3," + "0," * 9 + "0\n")

    code, out = _run(app, str(path))

    assert code == 0, out
    data = json.loads(out)
    assert data["MPI"]["exact"] == "0"
    assert all(v["contribution_pct"] is None for v in data["indicators"].values())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("household_id,size\na,1\n", "line 1: missing column(s) years_of_schooling"),
        (
            "household_id,size," + ",".join(INDICATORS) + "\na,2," + "0," * 9 + "yes\n",
            "line 2: assets must be 0 or 1, got 'yes'",
        ),
    ],
)
def test_bad_file_is_a_clean_error(app: Flask, tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)

    code, out = _run(app, str(path))

    assert code == 1
    assert message in out and "Traceback" not in out


def test_binary_file_is_a_clean_error(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\xff\xfe\x00\x81")

    code, out = _run(app, str(path))

    assert code == 1 and "not UTF-8" in out


def test_missing_file_is_a_usage_error(app: Flask, tmp_path: Path) -> None:
    code, out = _run(app, str(tmp_path / "nope.csv"))

    assert code == 2 and "does not exist" in out


@pytest.mark.parametrize(("k", "message"), [("a third", "not a fraction"), ("0", "(0, 1]")])
def test_bad_k_is_a_usage_error(app: Flask, k: str, message: str) -> None:
    code, out = _run(app, str(EXAMPLE), "--k", k)

    assert code == 2 and "--k" in out and message in out
