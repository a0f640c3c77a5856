"""``flask dial``: the terminal phone, end to end over a real local HTTP server."""

from __future__ import annotations

import socket

from flask import Flask

from tests.live_server import serve

MSISDN = "+254700000101"


def _dial(app: Flask, *args: str, input: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["dial", MSISDN, *args], input=input)
    return result.exit_code, result.output


def test_dial_walks_language_main_menu_and_policies_then_hangs_up(app: Flask) -> None:
    with serve(app) as base_url:
        code, out = _dial(app, "--url", f"{base_url}/ussd", input="1\n1\n\n")

    assert code == 0, out
    # First call from an unknown number: the language screen in all four languages.
    assert "Language/Lugha/Langue/语言" in out
    assert "1 English" in out and "4 中文" in out
    # English chosen: the main menu.
    assert "Ngazi main menu" in out
    assert "1 Policies & benefits" in out and "7 Language" in out
    # 1: the policies list, with its categories and the way back.
    screens = [s.strip() for s in out.split("-" * 24) if s.strip()]
    policies = next(s for s in screens if s.startswith("Policies & benefits"))
    assert "1 " in policies and policies.endswith("0 Back")
    # The empty line hangs up.
    assert out.rstrip().endswith("hung up")


def test_dial_second_call_goes_straight_to_the_main_menu(app: Flask) -> None:
    with serve(app) as base_url:
        _dial(app, "--url", f"{base_url}/ussd", input="2\n\n")
        code, out = _dial(app, "--url", f"{base_url}/ussd", input="\n")

    assert code == 0, out
    assert "Language/Lugha/Langue" not in out
    assert "Menyu kuu ya Ngazi" in out  # Kiswahili, remembered from the first call
    assert "1 Sera na mafao" in out
    assert "hung up" in out


def test_dial_wrong_service_code_ends_the_session(app: Flask) -> None:
    with serve(app) as base_url:
        code, out = _dial(app, "--url", f"{base_url}/ussd", "--code", "*999#", input="1\n")

    assert code == 0, out
    assert "This service code is not in use" in out
    assert "hung up" not in out  # END: no prompt at all


def test_dial_reports_an_unreachable_service(app: Flask) -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, out = _dial(app, "--url", f"http://127.0.0.1:{port}/ussd", input="\n")

    assert code == 1
    assert "cannot reach" in out
