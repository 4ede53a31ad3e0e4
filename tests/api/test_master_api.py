"""The master's own routes (GET /master, POST /master/shutdown), and why a job waits on its page."""

from datetime import datetime

from inprocess_master import URL, InProcessMaster


def test_the_master_says_what_it_is_and_what_it_holds(master: InProcessMaster) -> None:
    master.create_worker("w1", auto_start=False, cpus=2)
    master.api.post("/jobs", json={"command": ["true"]})
    info = master.api.get("/master").json()
    assert info["version"] and info["pid"] > 0 and info["uptime_s"] >= 0
    assert info["data_dir"] == str(master.data_dir.resolve())
    assert info["jobs_by_state"] == {"pending": 1, "assigned": 0, "running": 0}
    assert datetime.fromisoformat(info["oldest_pending_at"]) >= datetime.fromisoformat(
        info["started_at"]
    )
    assert info["stopping"] is False


def test_a_master_without_a_server_to_stop_refuses_shutdown(master: InProcessMaster) -> None:
    r = master.api.post("/master/shutdown")
    assert r.status_code == 409
    assert r.json() == {
        "detail": "this master runs inside another program, which stops it",
        "code": "conflict",
    }
    assert master.api.get("/master").json()["stopping"] is False


def test_the_master_routes_need_the_admin_token(master: InProcessMaster) -> None:
    for method, path in (("GET", "/master"), ("POST", "/master/shutdown")):
        r = master.api.request(method, path, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401, (method, path)


def test_the_job_page_says_why_a_pending_job_waits(master: InProcessMaster) -> None:
    master.create_worker("w1", auto_start=False, cpus=2)
    job_id = master.api.post("/jobs", json={"command": ["true"]}).json()["id"]
    page = master.api.get(f"{URL}/jobs/{job_id}")
    assert page.status_code == 200
    assert 'not placed: <span data-field="waiting_for">no worker is running</span>' in page.text
