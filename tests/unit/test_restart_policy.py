"""RestartPolicy: exponential backoff with jitter, the cap, the budget window, stability."""

import random

import pytest

from corral.domain.restart_policy import RestartPolicy


def policy(**overrides: float) -> RestartPolicy:
    """A policy without jitter unless asked, so delays are exact."""
    settings: dict[str, float] = {"base_delay_s": 1.0, "max_restart_attempts": 3, "jitter": 0.0}
    settings.update(overrides)
    return RestartPolicy(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("base", [0.0, -1.0])
def test_delay_is_zero_without_a_base(base: float) -> None:
    p = policy(base_delay_s=base, jitter=0.5)
    assert [p.delay_s(n, random.Random(n)) for n in range(1, 50)] == [0.0] * 49


def test_delay_doubles_per_consecutive_failure() -> None:
    p = policy(base_delay_s=0.5, max_delay_s=1000.0)
    assert [p.delay_s(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 8.0]
    # Zero or negative counts are treated as the first failure.
    assert p.delay_s(0) == p.delay_s(-3) == 0.5


@pytest.mark.parametrize("failures", [7, 8, 100, 10**6])
def test_delay_is_capped(failures: int) -> None:
    assert policy(max_delay_s=60.0).delay_s(failures) == 60.0


@pytest.mark.parametrize(("failures", "raw"), [(1, 2.0), (3, 8.0), (50, 30.0)])
def test_jitter_stays_within_its_bounds_around_the_capped_delay(failures: int, raw: float) -> None:
    p = policy(base_delay_s=2.0, max_delay_s=30.0, jitter=0.25)
    rng = random.Random(1234)
    samples = [p.delay_s(failures, rng) for _ in range(2000)]
    assert min(samples) >= raw * 0.75 and max(samples) <= raw * 1.25
    # The spread is really used, on both sides.
    assert min(samples) < raw * 0.8 and max(samples) > raw * 1.2


def test_jitter_follows_the_given_rng() -> None:
    p = policy(jitter=0.3)
    assert p.delay_s(4, random.Random(7)) == p.delay_s(4, random.Random(7))
    assert p.delay_s(4, random.Random(7)) != p.delay_s(4, random.Random(8))


def test_budget_counts_only_restarts_inside_the_window() -> None:
    p = policy(max_restart_attempts=3, window_s=100.0)
    now = 1000.0
    assert not p.budget_spent([], now)
    assert not p.budget_spent([950.0, 990.0], now)
    assert p.budget_spent([950.0, 990.0, 999.0], now)
    # Restarts that left the window no longer count; the edge itself is outside.
    assert not p.budget_spent([850.0, 900.0, 990.0, 999.0], now)
    assert p.budget_spent([900.1, 990.0, 999.0], now)


def test_zero_attempts_means_no_restart_at_all() -> None:
    assert policy(max_restart_attempts=0).budget_spent([], 0.0)


def test_stable_run_resets_after_the_threshold() -> None:
    p = policy(stable_after_s=60.0)
    assert not p.was_stable(0.0)
    assert not p.was_stable(59.999)
    assert p.was_stable(60.0)
    assert p.was_stable(3600.0)


def test_defaults() -> None:
    p = RestartPolicy(base_delay_s=1.0, max_restart_attempts=5)
    assert (p.window_s, p.max_delay_s, p.jitter, p.stable_after_s) == (300.0, 60.0, 0.2, 60.0)
