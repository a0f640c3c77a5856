"""deploy/: gunicorn's settings and hooks, the systemd units, the nginx site, the
environment file, the Dockerfile and the Compose file."""

from __future__ import annotations

import ast
import gc
import http.server
import json
import logging
import os
import re
import runpy
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
import requests
import yaml

CONF = Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py"


def _conf(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    # Unset, the conf makes a temporary directory and sets the variable for the
    # workers it would start; monkeypatch unsets it again after the test.
    env.setdefault("PROMETHEUS_MULTIPROC_DIR", "")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = _conf(monkeypatch, GUNICORN_WORKERS="3", GUNICORN_THREADS="4", PORT="5055")
    assert (conf["workers"], conf["threads"], conf["bind"]) == (3, 4, "127.0.0.1:5055")
    assert conf["worker_class"] == "gthread" and conf["keepalive"] == 75


def test_workers_freeze_what_the_app_built_and_again_after_warming_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conf = _conf(monkeypatch, GUNICORN_GC_REFREEZE="3")
    worker = SimpleNamespace()
    try:
        gc.unfreeze()
        conf["post_worker_init"](worker)
        first = gc.get_freeze_count()
        assert first > 0 and worker.ngazi_requests == 0
        kept = [[] for _ in range(1000)]  # what the first requests leave behind (GC-tracked)
        for _ in range(2):
            conf["post_request"](worker, None, {}, None)
        # Not yet refrozen. (Frozen objects that die leave the count: other
        # tests' threads may still be finishing, so it can only be said to not grow.)
        assert gc.get_freeze_count() <= first
        conf["post_request"](worker, None, {}, None)
        assert worker.ngazi_requests == 3
        assert gc.get_freeze_count() > first + len(kept) // 2  # the kept objects too
        assert kept
    finally:
        gc.unfreeze()


def test_prometheus_multiprocess_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fresh = _conf(monkeypatch)
    made = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    assert made.is_dir() and made.name.startswith("ngazi-prometheus-")
    assert fresh["bind"]  # the rest of the configuration is unchanged

    metrics_dir = tmp_path / "metrics"
    conf = _conf(monkeypatch, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(metrics_dir)  # kept as given
    metrics_dir.mkdir()
    (metrics_dir / "counter_41.db").write_bytes(b"from the last run")
    conf["on_starting"](SimpleNamespace())
    assert list(metrics_dir.iterdir()) == []  # a new run starts from zero

    for name in ("counter_42.db", "histogram_42.db", "gauge_livesum_42.db", "gauge_liveall_43.db"):
        (metrics_dir / name).write_bytes(b"")
    conf["child_exit"](SimpleNamespace(), SimpleNamespace(pid=42))
    # The dead worker's live gauges go; its counts stay in the totals.
    assert sorted(p.name for p in metrics_dir.iterdir()) == [
        "counter_42.db",
        "gauge_liveall_43.db",
        "histogram_42.db",
    ]
    made.rmdir()


# --- deploy/: systemd units, the nginx site, the environment file, containers --------
#
# Each file is checked with the tool that will read it, as far as this machine
# allows: `systemd-analyze verify` and `security --offline`, `nginx -t` and nginx
# serving the site, the Compose Specification's JSON schema. A missing tool skips
# with the package to install, and in CI a skip fails the run (conftest.py); .ci/run
# installs them. Each check is also shown to catch a mistake (a typo'd directive).

ROOT = CONF.parent.parent
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
SITE = DEPLOY / "nginx" / "ngazi.conf"
ENV_EXAMPLE = DEPLOY / ".env.example"
COMPOSE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
#: The Compose Specification's schema, vendored (Apache-2.0,
#: tests/fixtures/compose-spec.LICENSE) from check-jsonschema 0.39.0's copy of
#: https://github.com/compose-spec/compose-spec/blob/main/schema/compose-spec.json
COMPOSE_SCHEMA = ROOT / "tests" / "fixtures" / "compose-spec.json"


def _tool(name: str, package: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not found:
        pytest.skip(f"{name} is missing: apt-get install {package} (.ci/run installs it)")
    return found


# systemd -------------------------------------------------------------------------


def _units(tmp_path: Path, edit: Callable[[str, str], str] | None = None) -> Path:
    """The units with /opt/ngazi pointing at this checkout (so ExecStart's programs
    and files exist, as systemd-analyze requires), edited by ``edit(name, text)``."""
    out = tmp_path / "units"
    out.mkdir()
    for unit in UNITS.iterdir():
        text = unit.read_text().replace("/opt/ngazi", str(ROOT))
        (out / unit.name).write_text(edit(unit.name, text) if edit else text)
    return out


def _verify(units: Path) -> subprocess.CompletedProcess[str]:
    analyze = _tool("systemd-analyze", "systemd")
    names = sorted(p.name for p in units.iterdir()) + ["ngazi-worker@1.service"]
    return subprocess.run(
        [analyze, "verify", "--man=no", "--generators=no", *(str(units / n) for n in names)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    assert sorted(p.name for p in UNITS.iterdir()) == [
        "ngazi-migrate.service",
        "ngazi-purge-drafts.service",
        "ngazi-purge-drafts.timer",
        "ngazi-web.service",
        "ngazi-worker@.service",
        "ngazi.target",
    ]
    done = _verify(_units(tmp_path))
    # verify only warns (exit 0) about an unknown key or a bad value: any output fails.
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


@pytest.mark.parametrize(
    ("unit", "before", "after"),
    [
        ("ngazi-web.service", "NoNewPrivileges=", "NoNewPrivilege="),  # unknown key
        ("ngazi-web.service", "Restart=on-failure", "Restart=on-failur"),  # bad value
        ("ngazi-worker@.service", "ProtectSystem=strict", "ProtectSystem=strickt"),
        ("ngazi-migrate.service", ".venv/bin/flask", ".venv/bin/flaks"),  # no such program
        ("ngazi-web.service", "[Service]", "[Servce]"),  # unknown section
    ],
)
def test_systemd_analyze_catches_a_typo(tmp_path: Path, unit: str, before: str, after: str) -> None:
    def typo(name: str, text: str) -> str:
        if name != unit:
            return text
        assert before in text
        return text.replace(before, after, 1)

    done = _verify(_units(tmp_path, typo))
    assert done.returncode != 0 or done.stdout + done.stderr


def test_units_are_hardened(tmp_path: Path) -> None:
    """`systemd-analyze security` rates each service 2.0 or better ("OK" is < 4.5;
    an unhardened service is 9.6), and the settings an operator expects are there."""
    units = _units(tmp_path)
    services = ["ngazi-web.service", "ngazi-worker@1.service", "ngazi-migrate.service"]
    services.append("ngazi-purge-drafts.service")
    analyze = _tool("systemd-analyze", "systemd")
    for service in services:
        done = subprocess.run(
            [analyze, "security", "--offline=yes", "--threshold=20", str(units / service)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout[-600:] + done.stderr
    for path in UNITS.glob("*.service"):
        text = path.read_text()
        for line in ("User=ngazi", "EnvironmentFile=/etc/ngazi/ngazi.env", "WorkingDirectory="):
            assert f"\n{line}" in text, (path.name, line)
    web = (UNITS / "ngazi-web.service").read_text()
    assert "ExecReload=/bin/kill -s HUP $MAINPID" in web and "Type=notify" in web
    assert "Environment=PROMETHEUS_MULTIPROC_DIR=/run/ngazi-web/" in web
    assert "RuntimeDirectory=ngazi-web\n" in web  # writable under ProtectSystem=strict
    for name in ("ngazi-web.service", "ngazi-worker@.service"):
        text = (UNITS / name).read_text()
        assert "Restart=on-failure" in text and "Requires=ngazi-migrate.service" in text
        assert "After=ngazi-migrate.service" in text and "WantedBy=ngazi.target" in text


def _exec_start(unit: str) -> list[str]:
    line = next(
        line for line in (UNITS / unit).read_text().splitlines() if line.startswith("ExecStart=")
    )
    return shlex.split(line.removeprefix("ExecStart="))


@pytest.mark.parametrize(
    "unit", ["ngazi-migrate.service", "ngazi-worker@.service", "ngazi-purge-drafts.service"]
)
def test_flask_units_run_commands_the_app_has(unit: str, tmp_path: Path) -> None:
    argv = _exec_start(unit)
    assert argv[:3] == ["/opt/ngazi/.venv/bin/flask", "--app", "app"]
    flask = str(Path(sys.executable).parent / "flask")  # the venv running the tests
    env = {k: v for k, v in os.environ.items() if k not in _SERVICE_SETTINGS}
    done = subprocess.run(
        [flask, *argv[1:], "--help"],
        cwd=ROOT,
        env={**env, "NGAZI_INSTANCE_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{unit}: {done.stderr[-1000:]}"


#: Left out of the environment of commands the tests start: the embedded defaults.
_SERVICE_SETTINGS = ("DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")


def test_web_unit_command_passes_gunicorn_check_config(tmp_path: Path) -> None:
    argv = [arg.replace("/opt/ngazi", str(ROOT)) for arg in _exec_start("ngazi-web.service")]
    argv = [a.replace("/run/ngazi-web", str(tmp_path)) for a in argv]
    assert argv[0] == str(ROOT / ".venv" / "bin" / "gunicorn") and argv[-1] == "wsgi:app"
    env = {k: v for k, v in os.environ.items() if k not in _SERVICE_SETTINGS}
    env.update(NGAZI_INSTANCE_DIR=str(tmp_path))
    env.update(PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"))
    argv[0] = str(Path(sys.executable).parent / "gunicorn")  # the venv running the tests
    done = subprocess.run(
        [argv[0], "--check-config", *argv[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]


# nginx ---------------------------------------------------------------------------


class _Upstream:
    """A stand-in for gunicorn: answers every request 200 with what it received."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        seen = self.seen

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
                out = b"CON from the app"
                self.send_response(200)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _nginx_root(
    tmp_path: Path,
    *,
    scale_out: bool = False,
    upstream: int = 8000,
    ports: tuple[int, int] = (80, 443),
) -> Path:
    """A main configuration that includes the site, its certificate (self-signed,
    made here), logs and paths moved under ``tmp_path``."""
    openssl = _tool("openssl", "openssl")
    certs = tmp_path / "certs"
    logs = tmp_path / "logs"
    for folder in (certs, logs, tmp_path / "temp"):
        folder.mkdir()
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        + ["-nodes", "-days", "2", "-subj", "/CN=ngazi.example.org"]
        + ["-keyout", str(certs / "privkey.pem"), "-out", str(certs / "fullchain.pem")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    site = SITE.read_text()
    for old, new in [
        ("/etc/letsencrypt/live/ngazi.example.org/", f"{certs}/"),
        ("/var/log/nginx/", f"{logs}/"),
        ("/opt/ngazi/", f"{ROOT}/"),
        ("listen 80;", f"listen 127.0.0.1:{ports[0]};"),
        ("listen [::]:80;", ""),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{ports[1]} ssl http2;"),
        ("listen [::]:443 ssl http2;", ""),
        ("server 127.0.0.1:8000 ", f"server 127.0.0.1:{upstream} "),
    ]:
        assert old in site, old
        site = site.replace(old, new)
    if scale_out:  # the web nodes instead of the local server
        site = re.sub(r"\n\s*server 127\.0\.0\.1:\d+ .*# one machine", "", site)
        site = site.replace("#node ", "")
    (tmp_path / "site.conf").write_text(site)
    temp = tmp_path / "temp"
    user = "user root root;\n" if os.geteuid() == 0 else ""
    (tmp_path / "nginx.conf").write_text(
        f"{user}pid {tmp_path}/nginx.pid;\nerror_log {logs}/error.log;\n"
        "worker_processes 1;\nevents {}\nhttp {\n  include /etc/nginx/mime.types;\n"
        + "".join(
            f"  {kind}_temp_path {temp}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"  access_log {logs}/access.log;\n  include {tmp_path}/site.conf;\n}}\n"
    )
    return tmp_path


def _nginx_test(root: Path) -> subprocess.CompletedProcess[str]:
    nginx = _tool("nginx", "nginx")
    return subprocess.run(
        [nginx, "-t", "-p", str(root), "-e", str(root / "logs" / "error.log")]
        + ["-c", str(root / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("scale_out", [False, True], ids=["one-machine", "scale-out"])
def test_nginx_accepts_the_site(tmp_path: Path, scale_out: bool) -> None:
    done = _nginx_test(_nginx_root(tmp_path, scale_out=scale_out))
    assert done.returncode == 0, done.stderr
    assert "[warn]" not in done.stderr and "[emerg]" not in done.stderr, done.stderr
    if scale_out:
        assert "10.0.1.12:8000" in (tmp_path / "site.conf").read_text()
        assert not re.search(r"^\s*server 127\.", (tmp_path / "site.conf").read_text(), re.M)


def test_nginx_t_catches_a_typo(tmp_path: Path) -> None:
    root = _nginx_root(tmp_path)
    site = root / "site.conf"
    site.write_text(site.read_text().replace("proxy_read_timeout 8s;", "proxy_read_timeout 8ss;"))
    assert _nginx_test(root).returncode != 0


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_nginx_serves_the_site(tmp_path: Path) -> None:
    """nginx running the site against a stand-in upstream: redirects, the callbacks
    proxied with the forwarding headers, what is refused, static files, the log."""
    upstream = _Upstream()
    http_port, https_port = _free_port(), _free_port()
    root = _nginx_root(tmp_path, upstream=upstream.port, ports=(http_port, https_port))
    nginx = _tool("nginx", "nginx")
    base = [nginx, "-p", str(root), "-e", str(root / "logs" / "error.log")]
    base += ["-c", str(root / "nginx.conf")]
    server = subprocess.Popen([*base, "-g", "daemon off;"], stderr=subprocess.PIPE)
    https = f"https://127.0.0.1:{https_port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", https_port), timeout=0.2).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                time.sleep(0.05)
        with requests.Session() as client:
            client.verify = False  # self-signed; and no proxies or CA bundle from the env
            client.trust_env = False
            plain = client.get(f"http://127.0.0.1:{http_port}/console/", allow_redirects=False)
            assert plain.status_code == 301
            assert plain.headers["Location"] == "https://127.0.0.1/console/"
            acme = f"http://127.0.0.1:{http_port}/.well-known/acme-challenge/x"
            assert client.get(acme, allow_redirects=False).status_code == 404  # not redirected

            hop = client.post(f"{https}/ussd?token=s3cret", data={"text": "1"})
            assert (hop.status_code, hop.text) == (200, "CON from the app")
            assert hop.headers["Strict-Transport-Security"] == "max-age=63072000"
            seen = upstream.seen[-1]
            assert seen["path"] == "/ussd?token=s3cret" and seen["body"] == b"text=1"
            assert seen["headers"]["X-Forwarded-For"] == "127.0.0.1"
            assert seen["headers"]["X-Forwarded-Proto"] == "https"
            for path in ("/sms/inbound", "/sms/delivery", "/sms/optout"):
                assert client.post(f"{https}{path}?token=s3cret", data="x").status_code == 200
            assert client.get(f"{https}/ussd").status_code == 403  # POST only
            big = client.post(f"{https}/ussd?token=s3cret", data="t=" + "1" * 9000)
            assert big.status_code == 413
            proxied = len(upstream.seen)
            for path in ("/simulator", "/simulator/inbox?msisdn=1", "/bench/hello", "/x"):
                assert client.get(f"{https}{path}").status_code == 404, path
            assert len(upstream.seen) == proxied  # none of those reached the app

            css = client.get(f"{https}/console/static/console.css")
            assert css.status_code == 200 and css.headers["Cache-Control"] == "no-cache"
            assert css.content == (ROOT / "app/console/static/console.css").read_bytes()
            assert len(upstream.seen) == proxied  # served by nginx from the checkout
            home = client.get(f"{https}/", allow_redirects=False)
            assert (home.status_code, home.headers["Location"]) == (302, f"{https}/console/")
            assert client.get(f"{https}/console/users").text == "CON from the app"
            assert client.get(f"{https}/metrics").status_code == 200  # from this host
    finally:
        server.terminate()
        server.wait(timeout=30)
        upstream.close()
    log = (root / "logs" / "ngazi.access.log").read_text()
    assert "POST /ussd HTTP" in log and "s3cret" not in log  # no query strings logged


# the environment file ------------------------------------------------------------


def _reads(path: Path) -> list[str]:
    """Environment variables ``path`` reads: os.environ.get("X"), os.environ["X"],
    and its own ``_int("X", …)`` helper."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = ast.unparse(node.func)
            if func in ("os.environ.get", "_int", "os.getenv"):
                names.append(str(node.args[0].value))
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            if isinstance(node.slice, ast.Constant):
                names.append(str(node.slice.value))
    return sorted(set(names))


def _example() -> dict[str, tuple[str, bool]]:
    """``NAME -> (value, active)`` from deploy/.env.example; commented lines
    (``# NAME=value``) give the default."""
    out: dict[str, tuple[str, bool]] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        found = re.fullmatch(r"(# )?([A-Z][A-Z0-9_]*)=(.*)", line)
        if found:
            name = found[2]
            assert name not in out, f"{name} twice"
            value = found[3]
            if len(value) > 1 and value[0] == value[-1] == '"':
                value = value[1:-1]
            out[name] = (value, not found[1])
    return out


APP_CONFIG = ROOT / "app" / "config.py"


def test_env_example_lists_every_setting_and_nothing_else() -> None:
    read = set(_reads(APP_CONFIG)) | set(_reads(CONF))
    assert {"DATABASE_URL", "SECRET_KEY", "GUNICORN_BIND"} <= read  # the parser works
    listed = set(_example())
    assert not read - listed, f"settings missing from deploy/.env.example: {read - listed}"
    assert not listed - read, f"deploy/.env.example lists what nothing reads: {listed - read}"


def test_env_example_defaults_are_the_apps(monkeypatch: pytest.MonkeyPatch) -> None:
    """A commented line gives the default: the app reads the same value from it as
    with nothing set. Active lines parse too, and secrets are placeholders."""
    from app.config import from_env

    example = _example()
    names = _reads(APP_CONFIG)
    key = {"NGAZI_INSTANCE_DIR": "INSTANCE_DIR", "NGAZI_BENCH_ENDPOINT": "BENCH_ENDPOINT"}
    for name in names:
        monkeypatch.delenv(name, raising=False)
    defaults = from_env()
    examples_not_defaults = {"NGAZI_INSTANCE_DIR", "AT_SMS_BASE_URL"}
    for name in names:
        value, active = example[name]
        monkeypatch.setenv(name, value)
        read = from_env()  # a non-integer where an integer belongs raises here
        if not active and name not in examples_not_defaults:
            assert read[key.get(name, name)] == defaults[key.get(name, name)], name
        monkeypatch.delenv(name)
    for name in ("SECRET_KEY", "WEBHOOK_TOKEN", "METRICS_TOKEN", "AT_API_KEY", "DATABASE_URL"):
        value, active = example[name]
        assert active and "CHANGE-ME" in value, name
    assert example["CONSOLE_SECURE_COOKIES"] == ("1", True)
    assert example["SIMULATOR"] == ("0", True)


def test_env_example_reads_the_same_in_a_shell() -> None:
    """`set -a; . file` (how the runbook runs flask by hand) gives the same values."""
    done = subprocess.run(
        ["sh", "-c", f'set -a; . "{ENV_EXAMPLE}"; env -0'],
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    shell = dict(item.split("=", 1) for item in done.stdout.split("\0") if "=" in item)
    for name, (value, active) in _example().items():
        if active:
            assert shell.get(name) == value, name


# containers ----------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    return cast(dict[str, Any], yaml.safe_load(COMPOSE.read_text()))


def _schema_errors(document: dict[str, Any]) -> list[str]:
    jsonschema = pytest.importorskip("jsonschema")  # requirements-dev.txt
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_follows_the_compose_specification() -> None:
    assert _schema_errors(_compose()) == []


def test_compose_schema_catches_a_typo() -> None:
    compose = _compose()
    compose["services"]["web"]["healthcheck"]["intervall"] = "15s"
    assert _schema_errors(compose)


def test_compose_services_fit_together() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker"}
    volumes, secrets = set(compose["volumes"]), set(compose["secrets"])
    for name, service in services.items():
        for needed in service.get("depends_on", {}):
            assert needed in services, (name, needed)
        for mount in service.get("volumes", []):
            assert mount.split(":")[0] in volumes, (name, mount)
        for secret in service.get("secrets", []):
            assert secret in secrets, (name, secret)
        assert "container_name" not in service  # or --scale cannot start several
        for value in (service.get("environment") or {}).values():
            assert "CHANGE-ME" not in str(value) and "PASSWORD=" not in str(value)
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"].startswith("/run/")
    app_services = ("migrate", "web", "worker")
    for name in app_services:
        service = services[name]
        assert service["env_file"] == [{"path": "ngazi.env", "required": True}], name
        assert (
            COMPOSE.parent / service["build"]["context"] / service["build"]["dockerfile"]
        ).resolve() == DOCKERFILE
    assert services["migrate"]["command"] == ["flask", "--app", "app", "migrate"]
    assert services["worker"]["command"] == ["flask", "--app", "app", "worker"]
    assert services["web"]["command"][:3] == ["gunicorn", "--config", "deploy/gunicorn.conf.py"]
    assert services["web"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    for name in ("postgres", "redis", "web"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    ignored = (DEPLOY / ".gitignore").read_text().split()
    assert "ngazi.env" in ignored and "secrets/" in ignored  # filled-in copies stay out of git


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile() -> None:
    steps = _instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    assert all(
        word in {"FROM", "ENV", "RUN", "WORKDIR", "COPY", "USER", "EXPOSE", "CMD"}
        for word, _ in steps
    ), steps
    assert not any(word == "ADD" for word, _ in steps)  # no remote URLs, no tarballs
    users = [i for i, (word, _) in enumerate(steps) if word == "USER"]
    assert users and steps[users[-1]][1] not in ("root", "0", "0:0")
    assert users[-1] < next(i for i, (word, _) in enumerate(steps) if word == "CMD")
    runs = " ".join(rest for word, rest in steps if word == "RUN")
    assert "pip install -r requirements.txt" in runs and "pybabel -q compile -d locales" in runs
    copied = []
    for word, rest in steps:
        if word == "COPY":
            *sources, _target = rest.split()
            for source in sources:
                assert (ROOT / source).exists(), source
                copied.append(source.rstrip("/"))
    # Every package the service imports, the migrations and the data it reads.
    needed = ["app", "domain", "menus", "models", "workers", "migrations", "locales"]
    needed += ["vocabularies", "wsgi.py", "alembic.ini", "deploy/gunicorn.conf.py"]
    assert not set(needed) - set(copied)
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert not packages - set(copied), f"packages not in the image: {packages - set(copied)}"
    assert json.loads(steps[-1][1])[-1] == "wsgi:app"


# gunicorn: the app's own records ---------------------------------------------------


@pytest.fixture(autouse=True)
def _ngazi_logger() -> Iterator[None]:
    """post_worker_init configures the ``ngazi`` logger: put it back after each test."""
    logger = logging.getLogger("ngazi")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_workers_write_the_audit_log_to_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = _conf(monkeypatch)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # as under gunicorn: nothing configured
    try:
        conf["post_worker_init"](SimpleNamespace())
        conf["post_worker_init"](SimpleNamespace())  # once only
    finally:
        gc.unfreeze()
    assert len(logging.getLogger("ngazi").handlers) == 1
    logging.getLogger("ngazi.audit").info("otieno viewed household 12")
    logging.getLogger("ngazi.console").debug("not at INFO")
    err = capsys.readouterr().err
    assert "[INFO] ngazi.audit: otieno viewed household 12" in err and "not at INFO" not in err
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).rmdir()
