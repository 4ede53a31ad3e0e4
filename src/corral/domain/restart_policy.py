"""When to restart a crashed worker: exponential backoff with jitter and a restart budget."""

import random
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RestartPolicy:
    """Backoff and budget settings for one worker."""

    base_delay_s: float
    max_restart_attempts: int
    window_s: float = 300.0
    max_delay_s: float = 60.0
    jitter: float = 0.2
    stable_after_s: float = 60.0

    def delay_s(self, consecutive_failures: int, rng: random.Random | None = None) -> float:
        """Delay before restart number ``consecutive_failures`` (1-based), jittered and capped."""
        if self.base_delay_s <= 0:
            return 0.0
        exponent = max(consecutive_failures - 1, 0)
        raw = min(self.base_delay_s * (2.0 ** min(exponent, 32)), self.max_delay_s)
        spread = raw * self.jitter
        return max(0.0, raw + (rng or random).uniform(-spread, spread))

    def budget_spent(self, restart_times: Sequence[float], now: float) -> bool:
        """Whether the restarts inside the window have used up the budget."""
        recent = [t for t in restart_times if now - t < self.window_s]
        return len(recent) >= self.max_restart_attempts

    def was_stable(self, ran_for_s: float) -> bool:
        """Whether a run lasted long enough to forget earlier failures."""
        return ran_for_s >= self.stable_after_s
