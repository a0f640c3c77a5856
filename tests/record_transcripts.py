"""Record USSD transcripts into ``tests/fixtures/ussd-transcripts.jsonl``.

    .venv/bin/python -m tests.record_transcripts

Runs each scenario against the app (embedded default, demo data) and writes
every hop's form fields with the status and body the service gave. Read the
diff before committing it: the replay test then holds the service to it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from tests.conftest import FIXTURES, SERVICE_CODE

SHARED = FIXTURES / "ussd-dials-shared.jsonl"
OUT = FIXTURES / "ussd-transcripts.jsonl"


def _hops(
    session_id: str, msisdn: str, texts: list[str], network: str = "63902"
) -> list[dict[str, str]]:
    return [
        {
            "sessionId": session_id,
            "serviceCode": SERVICE_CODE,
            "phoneNumber": msisdn,
            "networkCode": network,
            "text": t,
        }
        for t in texts
    ]


def _walk(inputs: list[str]) -> list[str]:
    return ["*".join(inputs[:i]) for i in range(len(inputs) + 1)]


def scenarios() -> list[tuple[str, list[dict[str, str]]]]:
    out: list[tuple[str, list[dict[str, str]]]] = []
    for line in SHARED.open(encoding="utf-8"):
        case = json.loads(line)
        out.append((f"shared: {case['name']}", case["hops"]))
    n = 200

    def msisdn() -> str:
        nonlocal n
        n += 1
        return f"+2547000{n:05d}"

    deep = ["1", "1", "1", "1", "1"]  # English, Policies, Cash transfers, first article, SMS
    out.append(
        (
            "back from every depth to home",
            _hops("ATUid_back_all", msisdn(), _walk(deep + ["0", "0", "0", "0", "0"])),
        )
    )
    for depth in range(1, len(deep) + 1):
        out.append(
            (
                f"home from depth {depth}",
                _hops(f"ATUid_home_{depth}", msisdn(), _walk(deep[:depth] + ["00"])),
            )
        )
    for lang, code in [("English", "1"), ("Kiswahili", "2"), ("French", "3"), ("Chinese", "4")]:
        out.append(
            (
                f"{lang}: health advice, an article over pages, back",
                _hops(
                    f"ATUid_health_{code}",
                    msisdn(),
                    _walk([code, "4", "1", "1", "98", "0", "0", "0"]),
                ),
            )
        )
        out.append(
            (
                f"{lang}: the long list of cash transfers, page by page",
                _hops(
                    f"ATUid_cash_{code}", msisdn(), _walk([code, "1", "1", "98", "98", "0", "10"])
                ),
            )
        )
        out.append(
            (
                f"{lang}: education article sent by SMS, with a retry",
                _hops(
                    f"ATUid_edu_{code}",
                    msisdn(),
                    _walk([code, "5", "2", "1", "1"]) + ["*".join([code, "5", "2", "1", "1"])],
                ),
            )
        )
        out.append(
            (
                f"{lang}: entries that later work fills",
                _hops(f"ATUid_soon_{code}", msisdn(), _walk([code, "2", "0", "3", "0", "6", "0"])),
            )
        )
    out.append(
        (
            "invalid input everywhere",
            _hops(
                "ATUid_invalid_all",
                msisdn(),
                _walk(["x", "1", "99", "1", "abc", "1", "0", "98", "1", "7", "9", "0"]),
            ),
        )
    )
    return out


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
        client = app.test_client()
        with OUT.open("w", encoding="utf-8") as f:
            for name, hops in scenarios():
                recorded = []
                for form in hops:
                    resp = client.post("/ussd", data=form)
                    recorded.append(
                        {
                            "form": form,
                            "status": resp.status_code,
                            "body": resp.get_data(as_text=True),
                        }
                    )
                f.write(json.dumps({"name": name, "hops": recorded}, ensure_ascii=False) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
