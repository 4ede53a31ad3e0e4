"""A real master asks for a token on every route, loopback included, and never prints it."""

import re
from typing import Any

import httpx
import pytest

from master_process import MasterFactory, MasterProcess
from other_user import as_other_user

LOGIN_LINK = re.compile(r"open once in a browser: (\S+/login\?token=\S+)")
METHODS = ("get", "post", "put", "patch", "delete")


def routes(master: MasterProcess) -> list[tuple[str, str]]:
    """Every (method, path) the master documents, path parameters filled in."""
    spec: dict[str, Any] = httpx.get(master.url + "/openapi.json", headers=master.auth()).json()
    found = []
    for path, item in spec["paths"].items():
        filled = re.sub(r"\{[^}]+\}", "1", path)
        found += [(method.upper(), filled) for method in METHODS if method in item]
    return found


def test_every_route_refuses_a_missing_or_wrong_token(start_master: MasterFactory) -> None:
    master = start_master()
    master.create_worker("w1", auto_start=False)
    documented = [*routes(master), ("GET", "/docs"), ("GET", "/openapi.json")]
    assert len(documented) > 20
    # Another local user, without the token: one curl per method, every route in it.
    for method in {method for method, _ in documented}:
        urls = [master.url + path for m, path in documented if m == method]
        curl = ["curl", "-s", "-w", "%{http_code}\n", "-X", method]
        curl += ["-H", "content-type: application/json", "-d", "{}"]
        curl += [arg for url in urls for arg in ("-o", "/dev/null", url)]
        answered = as_other_user(*curl).stdout.split()
        assert len(answered) == len(urls) and set(answered) <= {"401", "429"}, (urls, answered)
    stranger = httpx.Client(base_url=master.url, timeout=10)
    for method, path in documented:
        for headers in ({"Authorization": "Bearer wrong"}, {"Cookie": "corral_session=1.x"}):
            r = stranger.request(method, path, headers=headers, json={})
            assert r.status_code in (401, 429), (method, path, r.status_code, r.text)
    stranger.close()
    # Nothing those requests asked for happened.
    assert [c["worker_id"] for c in master.api.get("/worker-configs").json()] == ["w1"]
    assert master.api.get("/jobs").json()["jobs"] == []


def test_a_peer_that_keeps_failing_is_slowed_but_the_owner_still_gets_in(
    start_master: MasterFactory,
) -> None:
    master = start_master()
    wrong = {"Authorization": "Bearer wrong"}
    answers = [httpx.get(master.url + "/api/v1/jobs", headers=wrong).status_code for _ in range(12)]
    assert answers[:10] == [401] * 10
    assert answers[10:] == [429, 429]
    r = httpx.get(master.url + "/api/v1/jobs", headers=wrong)
    assert int(r.headers["retry-after"]) >= 1
    assert master.api.get("/jobs").status_code == 200, "a right token is never refused"
    log = master.log()
    assert "authentication failed from 127.0.0.1: GET /api/v1/jobs (1 in a minute)" in log
    assert "127.0.0.1: further failed attempts refused for a while" in log


def test_the_login_link_works_once_and_sets_a_strict_cookie(start_master: MasterFactory) -> None:
    master = start_master()
    found = LOGIN_LINK.search(master.log())
    assert found, master.log()
    browser = httpx.Client(base_url=master.url, timeout=10)
    r = browser.get(found.group(1).removeprefix(master.url))
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert browser.get("/api/v1/jobs").status_code == 200
    again = httpx.get(found.group(1))
    assert again.status_code == 401, "the link is spent"
    # The cookie alone cannot change anything from another origin (CSRF).
    job = {"command": ["true"]}
    r = browser.post("/api/v1/jobs", json=job, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert browser.post("/api/v1/jobs", json=job).status_code == 403, "no origin at all"
    r = browser.post("/api/v1/jobs", json=job, headers={"Origin": master.url})
    assert r.status_code == 201
    browser.close()


def test_the_admin_token_is_a_login_too_and_never_printed(start_master: MasterFactory) -> None:
    master = start_master()
    token = master.auth()["Authorization"].removeprefix("Bearer ")
    assert (master.data_dir / "admin.token").stat().st_mode & 0o777 == 0o600
    r = httpx.get(f"{master.url}/login", params={"token": token})
    assert r.status_code == 303
    assert httpx.get(f"{master.url}/login", params={"token": token}).status_code == 303
    httpx.get(master.url + "/api/v1/jobs", headers={"Authorization": f"Bearer {token}x"})
    assert token not in master.log()


def test_every_change_is_audited_with_who_and_how_it_ended(start_master: MasterFactory) -> None:
    master = start_master()
    master.create_worker("w1", auto_start=False)
    r = httpx.delete(master.url + "/api/v1/worker-configs/w1")
    assert r.status_code == 401
    assert master.api.delete("/worker-configs/w1").status_code == 204
    trail = master.api.get("/audit", params={"limit": 3}).json()["entries"]
    assert [(e["actor"], e["method"], e["route"], e["target"], e["status"]) for e in trail] == [
        ("admin", "DELETE", "/api/v1/worker-configs/{worker_id}", "worker_id=w1", 204),
        ("anonymous", "DELETE", "/api/v1/worker-configs/w1", None, 401),
        ("admin", "POST", "/api/v1/worker-configs", None, 201),
    ]
    assert all(e["peer"] == "127.0.0.1" for e in trail)
    ids = [e["id"] for e in trail]
    assert ids == sorted(ids, reverse=True)


def test_insecure_no_auth_serves_loopback_without_tokens_and_warns(
    start_master: MasterFactory,
) -> None:
    master = start_master(insecure_no_auth="true")
    assert httpx.get(master.url + "/api/v1/jobs").status_code == 200
    assert "WARNING: serving without tokens (--insecure-no-auth)" in master.log()
    assert "serving WITHOUT tokens" in master.log()


def test_insecure_no_auth_is_refused_off_loopback(start_master: MasterFactory) -> None:
    with pytest.raises(AssertionError, match="loopback only"):
        start_master(insecure_no_auth="true", host="0.0.0.0")
