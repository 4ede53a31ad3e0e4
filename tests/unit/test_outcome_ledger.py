"""The worker's ledger of outcomes: synced before reporting, kept until acknowledged."""

from pathlib import Path

from corral.outcome_ledger import REWRITE_AFTER, OutcomeLedger, take_outcomes


def outcome(job_id: int, attempt: int = 1, instance: str = "i1") -> dict[str, object]:
    return {"job_id": job_id, "attempt": attempt, "instance_id": instance, "exit_code": 0}


def test_what_is_not_acknowledged_is_there_for_the_master(tmp_path: Path) -> None:
    ledger = OutcomeLedger(tmp_path / "outcomes.ledger")
    for job_id in (1, 2, 3):
        assert ledger.record(outcome(job_id))
    ledger.acknowledged(2, 1)
    ledger.close()
    found = take_outcomes(tmp_path / "outcomes.ledger")
    # An acknowledged outcome may linger until the next rewrite: its job has moved on.
    assert {(1, 1, "i1"), (3, 1, "i1")} <= set(found)
    assert take_outcomes(tmp_path / "outcomes.ledger") == {}, "taken once"


def test_acknowledged_outcomes_are_rewritten_away(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.ledger"
    ledger = OutcomeLedger(path)
    ledger.record(outcome(0))
    for job_id in range(1, REWRITE_AFTER + 1):
        ledger.record(outcome(job_id))
        ledger.acknowledged(job_id, 1)
    ledger.close()
    assert list(take_outcomes(path)) == [(0, 1, "i1")]


def test_everything_acknowledged_leaves_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.ledger"
    ledger = OutcomeLedger(path)
    ledger.record(outcome(1))
    ledger.acknowledged(1, 1)
    ledger.record(outcome(2))
    ledger.close()
    assert list(take_outcomes(path)) == [(2, 1, "i1")]


def test_a_new_instance_keeps_what_the_dead_one_left(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.ledger"
    OutcomeLedger(path).record(outcome(1, instance="dead"))
    OutcomeLedger(path).record(outcome(2, instance="new"))
    assert sorted(take_outcomes(path)) == [(1, 1, "dead"), (2, 1, "new")]


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.ledger"
    OutcomeLedger(path).record(outcome(1))
    with path.open("a") as f:
        f.write('{"job_id": 2, "attem')
    assert list(take_outcomes(path)) == [(1, 1, "i1")]


def test_a_missing_ledger_has_nothing(tmp_path: Path) -> None:
    assert take_outcomes(tmp_path / "nowhere") == {}
