"""Who may call the gateway's callbacks (``/ussd``, ``/sms/…``).

Africa's Talking does not sign its callbacks, so each callback URL carries a
secret, ``?token=<WEBHOOK_TOKEN>``, set where the URLs are entered in the
gateway's dashboard (see the README). A request without the right token gets
``403`` and is counted (``ngazi_webhook_refused_total``). Tokens are compared in
constant time (``hmac.compare_digest``), so timing does not leak them.

Optionally, ``WEBHOOK_ALLOW_CIDRS`` (comma-separated networks) also limits the
callbacks to the gateway's source addresses. The source address is the TCP
peer's, unless that peer is one of ``TRUSTED_PROXIES`` (comma-separated
networks: the load balancer, nginx): then ``X-Forwarded-For`` is read from the
right, skipping trusted proxies, and the first other address is the client.
``X-Forwarded-For`` from anyone else is ignored, since a client can write
anything there.

Without ``WEBHOOK_TOKEN`` set the token is a public development default, and the
app warns at start (as for ``SECRET_KEY``).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Sequence
from typing import Any

from flask import Flask, Response, current_app, request

from app import metrics
from app.config import DEV_WEBHOOK_TOKEN

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FORBIDDEN = "Forbidden"


def parse_networks(text: str, setting: str) -> tuple[Network, ...]:
    """``"196.201.214.0/24, 10.0.0.5"`` → networks (a bare address is a /32 or
    /128). Raises ``ValueError`` naming ``setting`` for anything else."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise ValueError(f"{setting}: {part!r} is not an address or network") from exc
    return tuple(out)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        found = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped  # ::ffff:1.2.3.4 is 1.2.3.4
    return found


def _within(address: Any, networks: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in networks)


def client_address(
    remote_addr: str | None, forwarded_for: str | None, trusted: Sequence[Network]
) -> str:
    """The client's address: ``remote_addr``, or when that is a trusted proxy,
    the rightmost address in ``X-Forwarded-For`` that is not one (the leftmost
    when all are). ``""`` when there is none. An unparsable entry stops the walk
    there: it is the client as far as we can tell."""
    peer = remote_addr or ""
    if not forwarded_for or not _within(_address(peer), trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _within(_address(hop), trusted):
            return hop
    return hops[0] if hops else peer


def request_address() -> str:
    """This request's client address (see ``client_address``)."""
    return client_address(
        request.remote_addr,
        request.headers.get("X-Forwarded-For"),
        current_app.extensions["ngazi_trusted_proxies"],
    )


def check_callback() -> Response | None:
    """A ``before_request`` hook for the callback blueprints: None to go on, or
    the ``403`` answer (counted by endpoint and reason)."""
    config = current_app.config
    expected = str(config["WEBHOOK_TOKEN"]).encode()
    given = request.args.get("token", "").encode("utf-8", "replace")
    reason = None
    if not hmac.compare_digest(given, expected):
        reason = "token"
    else:
        allowed: tuple[Network, ...] = current_app.extensions["ngazi_webhook_allow"]
        if allowed and not _within(_address(request_address()), allowed):
            reason = "source"
    if reason is None:
        return None
    endpoint = (request.url_rule.rule if request.url_rule else request.path)[:40]
    metrics.count_refused_callback(endpoint, reason)
    log.warning("refused callback to %s from %.64r: %s", endpoint, request_address(), reason)
    return Response(FORBIDDEN, status=403, mimetype="text/plain")


def init_app(app: Flask) -> None:
    """Read the networks once; warn about a development token. Raises
    ``ValueError`` for a malformed network setting (the app does not start)."""
    app.extensions["ngazi_webhook_allow"] = parse_networks(
        app.config["WEBHOOK_ALLOW_CIDRS"], "WEBHOOK_ALLOW_CIDRS"
    )
    app.extensions["ngazi_trusted_proxies"] = parse_networks(
        app.config["TRUSTED_PROXIES"], "TRUSTED_PROXIES"
    )
    if not app.config["WEBHOOK_TOKEN"]:
        raise ValueError("WEBHOOK_TOKEN is empty: set a long random secret")
    if app.config["WEBHOOK_TOKEN"] == DEV_WEBHOOK_TOKEN and not app.testing:
        log.warning(
            "WEBHOOK_TOKEN is the development default: set WEBHOOK_TOKEN before "
            "giving the callback URLs to the gateway"
        )
