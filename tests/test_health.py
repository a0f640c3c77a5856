from flask.testing import FlaskClient


def test_healthz_reports_database_and_redis(client: FlaskClient) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "database": True, "redis": True}
