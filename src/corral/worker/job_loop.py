"""The job exchange with the master: a parked long-poll and a reporter of events.

Each runs on its own thread, so on its own keep-alive connection. The poller
keeps one request parked so that the master can push work the moment it has
some. The reporter sends the outbox as soon as it holds events; events that
arrive while a report is in flight go in the next one, which batches them
without any added delay. Both hand what the master answers to the executor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from corral.protocol import JobEvent
from corral.worker.agent import Agent, backoff_delays
from corral.worker.daemon import DaemonThread
from corral.worker.executor import Executor
from corral.worker.master_client import (
    MasterBusy,
    MasterError,
    MasterRejected,
    NotFound,
    Unauthorized,
)
from corral.worker.outbox import Outbox

log = logging.getLogger(__name__)

POLL_WAIT_S = 20.0
# The client gives a parked poll this long beyond its wait to come back.
POLL_TIMEOUT_MARGIN_S = 5.0
REPORT_TIMEOUT_S = 5.0
# Answers that refuse a report for what it holds, not for who sent it.
REFUSED_CONTENT = frozenset({413, 422})

FatalHandler = Callable[[MasterError], None]


class ExchangeThread(DaemonThread):
    """What both loops share: handing answers over, backing off, fatal errors."""

    def __init__(self, agent: Agent, executor: Executor, *, name: str, on_fatal: FatalHandler):
        super().__init__(0.0, name=name)
        self.agent = agent
        self.executor = executor
        self.on_fatal = on_fatal
        self.fatal_error: MasterError | None = None
        self._delays: Iterator[float] = backoff_delays()

    def exchange(self, events: list[JobEvent], wait_s: float, timeout: float) -> MasterError | None:
        """One request; the error if it failed (after the back-off wait it calls for)."""
        try:
            answer = self.agent.exchange(
                events, wait_s=wait_s, draining=self.executor.draining, timeout=timeout
            )
        except MasterError as exc:
            self._failed(exc)
            return exc
        self._delays = backoff_delays()
        if answer is not None and not self.stopping:
            self.executor.submit(answer["assignments"], answer["cancels"], answer["stale"])
        return None

    def _failed(self, exc: MasterError) -> None:
        """Handle a failed request: stop for good, or wait before it goes again."""
        if isinstance(exc, Unauthorized | NotFound):
            log.error("master rejected this worker: %s", exc)
            self.fatal_error = exc
            self.stop(0)
            self.on_fatal(exc)
        elif isinstance(exc, MasterBusy):
            log.warning("%s: master busy, sending again in %.3g s", self.name, exc.retry_after_s)
            self.wait(exc.retry_after_s)
        else:
            if isinstance(exc, MasterRejected):
                log.warning("%s: exchange refused: %s", self.name, exc)
            self.wait(next(self._delays))


class Poller(ExchangeThread):
    """Keeps one long-poll parked so that work is pushed, not polled for."""

    def __init__(
        self,
        agent: Agent,
        executor: Executor,
        *,
        wait_s: float = POLL_WAIT_S,
        on_fatal: FatalHandler = lambda exc: None,
    ) -> None:
        super().__init__(agent, executor, name="poller", on_fatal=on_fatal)
        self.wait_s = wait_s

    def do_work(self) -> None:
        self.exchange([], self.wait_s, self.wait_s + POLL_TIMEOUT_MARGIN_S)

    def stop(self, timeout: float | None = None) -> None:
        """Stop without waiting: a parked poll is abandoned and its answer ignored."""
        super().stop(0)


class Reporter(ExchangeThread):
    """Sends the outbox's events as soon as there are any; puts them back on failure."""

    def __init__(
        self,
        agent: Agent,
        executor: Executor,
        outbox: Outbox,
        *,
        on_fatal: FatalHandler = lambda exc: None,
    ) -> None:
        super().__init__(agent, executor, name="reporter", on_fatal=on_fatal)
        self.outbox = outbox
        self._announce = False

    def announce(self) -> None:
        """Send one request even without events (e.g. to say that the worker drains)."""
        self._announce = True
        self.outbox.wake()

    def do_work(self) -> None:
        batch = self.outbox.take(until=lambda: self._announce or self.stopping)
        if not batch and not self._announce:
            self.outbox.settle(batch, delivered=True)
            return
        self._announce = False
        error = self.exchange(batch, 0.0, REPORT_TIMEOUT_S)
        if isinstance(error, MasterRejected) and error.status in REFUSED_CONTENT:
            # Too large, or an event the master cannot take: the outbox splits, never drops.
            self.outbox.refused(batch, error.status)
        else:
            self.outbox.settle(batch, delivered=error is None)
        if error is not None and not batch:
            self._announce = True

    def stop(self, timeout: float | None = None) -> None:
        self._stop_requested.set()
        self.outbox.wake()
        super().stop(timeout)
