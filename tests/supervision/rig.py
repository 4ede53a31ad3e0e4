"""The master's real services on SQLite, with a fake launcher, driven through public methods."""

import uuid
from dataclasses import dataclass, field
from typing import Any

from corral.domain.workers import WorkerConfig, WorkerRuntime
from corral.master.app import close_services
from corral.master.services import Services
from corral.master.workers.supervisor import WorkerSupervisor
from fake_launcher import FakeHandle, FakeLauncher
from waiting import wait_for_async

Edge = tuple[str, str]


@dataclass
class Rig:
    """One master's services whose workers are FakeHandles."""

    svc: Services
    launcher: FakeLauncher
    closed: bool = field(default=False, init=False)

    async def close(self) -> None:
        """Shut the services down as a master does: workers stop, desired states stay."""
        if not self.closed:
            self.closed = True
            await close_services(self.svc)

    async def add(self, worker_id: str = "w1", **fields: Any) -> WorkerSupervisor:
        """Configure a worker (started at once unless ``auto_start=False``); its supervisor."""
        await self.svc.lifecycle.add(WorkerConfig(worker_id=worker_id, name=worker_id, **fields))
        return self.svc.lifecycle.get(worker_id)

    async def running(self, worker_id: str = "w1", **fields: Any) -> WorkerSupervisor:
        """A configured worker whose first instance has registered."""
        sup = await self.add(worker_id, **fields)
        await self.launch_number(1, worker_id)
        self.register(worker_id)
        return sup

    def status(self, worker_id: str = "w1") -> WorkerRuntime:
        """The worker's runtime record as the master holds it: what its API answers."""
        return self.svc.lifecycle.get(worker_id).runtime

    async def row(self, worker_id: str = "w1") -> WorkerRuntime:
        """The worker's runtime row in the database, once every queued change is written."""
        await self.svc.writer.flush()
        return self.svc.db.runtime.get(worker_id)

    async def edges(self, worker_id: str = "w1") -> list[Edge]:
        """Every state change stored for the worker, oldest first, once all are written."""
        await self.svc.writer.flush()
        rows = self.svc.db.logs.list(worker_id, limit=1000)
        # A transition row's message is "<old> -> <new>: <why>".
        found = [r.message.split(":", 1)[0].split(" -> ") for r in rows if r.kind == "transition"]
        return [(old, new) for old, new in reversed(found)]

    def launched(self, worker_id: str = "w1") -> list[FakeHandle]:
        """The instances launched for the worker so far, oldest first."""
        return self.launcher.launched(worker_id)

    async def launch_number(self, n: int, worker_id: str = "w1") -> FakeHandle:
        """Wait for the worker's ``n``-th launch and return that instance."""
        await wait_for_async(lambda: len(self.launched(worker_id)) >= n, what=f"launch #{n}")
        return self.launched(worker_id)[n - 1]

    def register(self, worker_id: str = "w1") -> FakeHandle:
        """The latest instance registers, as a real worker does first thing."""
        handle = self.launched(worker_id)[-1]
        assert handle.pid is not None
        self.svc.lifecycle.get(worker_id).registered(uuid.uuid4().hex, handle.pid, "h", [0, 1])
        return handle

    async def state(self, state: str, worker_id: str = "w1", **expected: Any) -> WorkerRuntime:
        """Wait until the worker's record is in ``state`` with the ``expected`` field values."""

        def probe() -> WorkerRuntime | None:
            now = self.status(worker_id)
            ok = now.state == state and all(getattr(now, k) == v for k, v in expected.items())
            return now if ok else None

        return await wait_for_async(probe, what=f"{worker_id} {state} {expected}")
