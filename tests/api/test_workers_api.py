"""The workers' REST routes over a fleet of in-memory workers that register like real ones."""

from inprocess_master import InProcessMaster


def test_start_of_a_running_worker_is_refused(master: InProcessMaster) -> None:
    master.create_worker("w1")
    master.register("w1")
    master.wait_state("w1", "running")
    r = master.api.post("/workers/w1/start")
    assert r.status_code == 409
    assert "already running" in r.json()["detail"]
    assert len(master.launcher.launched("w1")) == 1


def test_batch_reports_each_worker(master: InProcessMaster) -> None:
    for wid in ("a", "b"):
        master.create_worker(wid, auto_start=False)
    r = master.api.post(
        "/workers/batch", json={"action": "start", "worker_ids": ["a", "nope", "b"]}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    results = {item["worker_id"]: item for item in body["results"]}
    assert [item["worker_id"] for item in body["results"]] == ["a", "nope", "b"]
    assert results["a"]["ok"] and results["b"]["ok"]
    assert not results["nope"]["ok"] and results["nope"]["status_code"] == 404
    assert body["succeeded"] == 2 and body["failed"] == 1
    for wid in ("a", "b"):
        master.register(wid)
        master.wait_state(wid, "running")
    r = master.api.post(
        "/workers/batch",
        json={"action": "stop", "worker_ids": ["a", "b"], "options": {"graceful": False}},
    )
    assert r.json()["succeeded"] == 2
    assert {master.status(w)["state"] for w in ("a", "b")} == {"stopped"}
    assert all(h.stop_timeouts == [0.0] for h in master.launcher.handles), "not graceful"


def test_overview_and_summary_count_the_fleet(master: InProcessMaster) -> None:
    master.create_worker("a", cpus=2)
    master.create_worker("b", auto_start=False)
    master.register("a")
    master.wait_state("a", "running")
    overview = master.api.get("/workers/stats/overview").json()
    assert overview["total"] == 2
    assert overview["by_state"]["running"] == 1 and overview["by_state"]["stopped"] == 1
    summary = master.api.get("/worker-configs/stats/summary").json()
    assert summary["total"] == 2 and summary["by_deployment_type"] == {"local": 2}
    assert summary["declared_cpus"] == 2 and summary["auto_start"] == 1
