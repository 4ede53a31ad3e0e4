"""Alert states, rule checks and signatures: the pure parts of alerting."""

from datetime import UTC, datetime, timedelta

from corral.master.alerts import signing
from corral.master.alerts.checks import CHECKS
from corral.master.alerts.snapshot import Snapshot, Windows, WorkerView
from corral.master.alerts.states import AlertState, step
from webhook_receiver import SECRET, verified

T0 = datetime(2026, 12, 1, tzinfo=UTC)
KEY: tuple[str, dict[str, str]] = ("queue_backlog", {})


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_an_alert_waits_its_for_then_fires_repeats_and_resolves() -> None:
    alert, notice = step(None, KEY, 5.0, at(0), for_s=10, repeat_s=60)
    assert alert is not None and alert.state is AlertState.PENDING and notice is None
    alert, notice = step(alert, KEY, 6.0, at(9), 10, 60)
    assert alert is not None and alert.state is AlertState.PENDING and notice is None
    alert, notice = step(alert, KEY, 7.0, at(10), 10, 60)
    assert alert is not None and alert.state is AlertState.FIRING and notice == "firing"
    assert alert.value == 7.0 and alert.active_at == at(0) and alert.since == at(10)
    assert step(alert, KEY, 7.0, at(69), 10, 60)[1] is None
    assert step(alert, KEY, 7.0, at(70), 10, 60)[1] == "firing", "repeated"
    alert, notice = step(alert, KEY, None, at(80), 10, 60)
    assert alert is not None and alert.state is AlertState.RESOLVED and notice == "resolved"
    assert alert.resolved_at == at(80)
    again, notice = step(alert, KEY, 9.0, at(90), 0, 60)
    assert again is not None and again is not alert and notice == "firing"


def test_a_pending_alert_whose_breach_ends_goes_away() -> None:
    alert, _ = step(None, KEY, 5.0, at(0), 10, 60)
    assert step(alert, KEY, None, at(5), 10, 60) == (None, None)
    assert step(None, KEY, None, at(5), 10, 60) == (None, None)


def worker(**fields: object) -> WorkerView:
    base: dict[str, object] = dict(
        worker_id="w1",
        state="running",
        should_run=True,
        local=True,
        heartbeat_age_s=1.0,
        cpu_percent=0.0,
        cpus=2,
        memory_bytes=0,
        restarts_in_window=0,
    )
    return WorkerView(**{**base, **fields})  # type: ignore[arg-type]


def snapshot(*workers: WorkerView, **fields: object) -> Snapshot:
    base: dict[str, object] = dict(
        workers=list(workers),
        pending=0,
        oldest_pending_s=0.0,
        unrunnable=0,
        finished_in_window=0,
        failed_in_window=0,
        host_memory_bytes=1000,
    )
    return Snapshot(**{**base, **fields})  # type: ignore[arg-type]


def test_each_check_breaches_past_its_threshold_only() -> None:
    w = {"worker": "w1"}
    assert CHECKS["worker_down"](snapshot(worker(state="crashed")), 10) == [(w, 1.0)]
    assert CHECKS["worker_down"](snapshot(worker(heartbeat_age_s=11.0)), 10) == [(w, 11.0)]
    assert CHECKS["worker_down"](snapshot(worker(state="stopped", should_run=False)), 10) == []
    assert CHECKS["worker_crash_loop"](snapshot(worker(restarts_in_window=4)), 3) == [(w, 4.0)]
    assert CHECKS["worker_crash_loop"](snapshot(worker(restarts_in_window=3)), 3) == []
    assert CHECKS["worker_crash_loop"](snapshot(worker(state="error")), 3) == [(w, 0.0)]
    assert CHECKS["worker_cpu_high"](snapshot(worker(cpu_percent=190.0)), 90) == [(w, 95.0)]
    assert CHECKS["worker_cpu_high"](snapshot(worker(cpu_percent=170.0)), 90) == []
    assert CHECKS["worker_memory_high"](snapshot(worker(memory_bytes=950)), 90) == [(w, 95.0)]
    assert CHECKS["worker_memory_high"](snapshot(worker(memory_bytes=950, local=False)), 90) == []
    assert CHECKS["queue_backlog"](snapshot(pending=101), 100) == [({}, 101)]
    assert CHECKS["queue_oldest_pending"](snapshot(pending=1, oldest_pending_s=601.0), 600)
    assert CHECKS["jobs_unrunnable"](snapshot(unrunnable=1), 0) == [({}, 1)]
    ratio = snapshot(finished_in_window=4, failed_in_window=3)
    assert CHECKS["job_failure_ratio"](ratio, 0.5) == [({}, 0.75)]
    assert CHECKS["no_worker_running"](snapshot(worker(state="lost"), pending=2), 0) == [({}, 2)]
    assert CHECKS["no_worker_running"](snapshot(worker(), pending=2), 0) == []


def test_windows_count_only_the_last_ten_minutes() -> None:
    windows = Windows()
    assert windows.restarts_of("w1", 5, now=0.0) == 0
    assert windows.restarts_of("w1", 8, now=300.0) == 3
    assert windows.restarts_of("w1", 9, now=700.0) == 1, "the count at 0 s left the window"
    windows.keep_only(["w2"])
    assert windows.restarts_of("w1", 9, now=701.0) == 0, "a worker deleted and made again"


def test_signatures_follow_standard_webhooks() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and len(signing.key_of(secret)) == 24
    body = b'{"a":1}'
    headers = signing.headers(SECRET, "msg_1", 1700000000, body)
    assert headers["webhook-id"] == "msg_1" and headers["webhook-timestamp"] == "1700000000"
    assert verified(SECRET, "msg_1", "1700000000", body, headers["webhook-signature"])
    assert not verified(SECRET, "msg_1", "1700000001", body, headers["webhook-signature"])


def test_the_signature_matches_the_specifications_example() -> None:
    # The example of the Standard Webhooks specification and its reference libraries.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    got = signing.signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert got == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
