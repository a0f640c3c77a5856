"""Record USSD transcripts into ``tests/fixtures/ussd-transcripts.jsonl``.

    .venv/bin/python -m tests.record_transcripts

Runs each scenario against the app (embedded default, demo data) and writes
every hop's form fields with the status and body the service gave. Read the
diff before committing it: the replay test then holds the service to it.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from menus.session import SINCE_KEY
from tests.conftest import FIXTURES, SERVICE_CODE

SHARED = FIXTURES / "ussd-dials-shared.jsonl"
OUT = FIXTURES / "ussd-transcripts.jsonl"
#: In a walk: press 98 until the "1 <send me this by SMS>" line shows, then 1.
SMS = "<sms>"
#: In a walk: send the previous callback again (a gateway retry).
REPEAT = "<repeat>"

Walk = tuple[str, str, list[str]]  # sessionId, phone number, inputs


def scenarios() -> list[tuple[str, list[dict[str, str]] | Walk]]:
    out: list[tuple[str, list[dict[str, str]] | Walk]] = []
    for line in SHARED.open(encoding="utf-8"):
        case = json.loads(line)
        out.append((f"shared: {case['name']}", case["hops"]))
    n = 200

    def walk(session: str, inputs: list[str]) -> Walk:
        nonlocal n
        n += 1
        return (session, f"+2547000{n:05d}", inputs)

    deep = ["1", "1", "1", "1", SMS]  # English, Policies, Cash transfers, first article, SMS
    out.append(("back from every depth to home", walk("ATUid_back_all", deep + ["0"] * 5)))
    for depth in range(1, len(deep) + 1):
        out.append((f"home from depth {depth}", walk(f"ATUid_home_{depth}", deep[:depth] + ["00"])))
    for lang, code in [("English", "1"), ("Kiswahili", "2"), ("French", "3"), ("Chinese", "4")]:
        out.append(
            (
                f"{lang}: health advice, an article over pages, back",
                walk(f"ATUid_health_{code}", [code, "4", "1", "1", "98", "0", "0", "0"]),
            )
        )
        out.append(
            (
                f"{lang}: the long list of cash transfers, page by page",
                walk(f"ATUid_cash_{code}", [code, "1", "1", "98", "98", "0", "98", "10"]),
            )
        )
        out.append(
            (
                f"{lang}: education article sent by SMS, with a retry",
                walk(f"ATUid_edu_{code}", [code, "5", "2", "1", SMS, REPEAT]),
            )
        )
        out.append(
            (
                f"{lang}: jobs, market and my household entries",
                walk(f"ATUid_soon_{code}", [code, "2", "0", "3", "0", "6", "0"]),
            )
        )
    out.append(
        (
            "invalid input everywhere",
            walk(
                "ATUid_invalid_all",
                ["x", "1", "99", "1", "abc", "1", "0", "98", "1", "7", "9", "0"],
            ),
        )
    )
    out.append(
        (
            "an option not shown yet is not taken",
            walk("ATUid_hidden", ["1", "1", "1", "1", "1", "98", "98", "1"]),
        )
    )
    return out


def _record_walk(client: Any, session: str, msisdn: str, inputs: list[str]) -> list[dict[str, Any]]:
    typed: list[str] = []
    hops: list[dict[str, Any]] = []

    def post(text: str) -> str:
        form = {
            "sessionId": session,
            "serviceCode": SERVICE_CODE,
            "phoneNumber": msisdn,
            "networkCode": "63902",
            "text": text,
        }
        resp = client.post("/ussd", data=form)
        body = resp.get_data(as_text=True)
        hops.append({"form": form, "status": resp.status_code, "body": body})
        return body

    body = post("")
    for key in inputs:
        if key == REPEAT:
            body = post("*".join(typed))
            continue
        if key == SMS:
            while "\n1 " not in body and "\n98 " in body:
                typed.append("98")
                body = post("*".join(typed))
            key = "1"
        typed.append(key)
        body = post("*".join(typed))
    return hops


def main() -> None:
    from app import create_app
    from app.db import db_session, upgrade
    from domain import demo

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'record.db'}"
        upgrade(url)
        app = create_app(
            {
                "DATABASE_URL": url,
                "REDIS_URL": "",
                "INSTANCE_DIR": tmp,
                "AT_USERNAME": "",
                "AT_API_KEY": "",
            }
        )
        with app.app_context():
            demo.load_areas(db_session())
            demo.load_content(db_session())
        app.extensions["ngazi_redis"].set(SINCE_KEY, time.time() - 3600)  # as in conftest
        client = app.test_client()
        with OUT.open("w", encoding="utf-8") as f:
            for name, spec in scenarios():
                if isinstance(spec, tuple):
                    hops = _record_walk(client, *spec)
                else:
                    hops = []
                    for form in spec:
                        resp = client.post("/ussd", data=form)
                        hops.append(
                            {
                                "form": form,
                                "status": resp.status_code,
                                "body": resp.get_data(as_text=True),
                            }
                        )
                f.write(json.dumps({"name": name, "hops": hops}, ensure_ascii=False) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
