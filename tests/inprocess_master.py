"""The master's app served in this process: its real lifespan, no port, no master process.

The app runs on an event loop in a thread of its own (an anyio blocking portal);
a plain httpx.Client hands each request to it, so tests stay synchronous and use
the same MasterApi helpers as against a master process. Answers are read whole:
streaming routes need a real master.
"""

import uuid
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI

from corral.domain.workers import DeploymentType
from corral.master.app import create_app
from corral.master.tokens import admin_token_path
from corral.protocol import REGISTER_PATH
from corral.settings import MasterSettings
from fake_launcher import FakeLauncher
from master_api import MasterApi, as_worker
from waiting import wait_for

URL = "http://master.test"


class PortalTransport(httpx.BaseTransport):
    """Sends each request to an ASGI app on the portal's loop and reads the answer there."""

    def __init__(self, portal: BlockingPortal, app: FastAPI) -> None:
        self._portal = portal
        self._asgi = httpx.ASGITransport(app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Run the request through the app; return the whole answer."""
        request.read()  # a streamed body is read here: the app's loop cannot iterate it

        async def send() -> httpx.Response:
            answer = await self._asgi.handle_async_request(request)
            content = await answer.aread()
            return httpx.Response(answer.status_code, headers=answer.headers, content=content)

        return self._portal.call(send)


class InProcessMaster(MasterApi):
    """A master whose workers are FakeHandles, served in this process while in a ``with``."""

    def __init__(self, data_dir: Path, **settings: Any) -> None:
        self.data_dir = data_dir
        self.url = URL
        self.settings = MasterSettings(data_dir=data_dir, **settings)
        self.launcher = FakeLauncher()
        self._stack = ExitStack()

    def __enter__(self) -> "InProcessMaster":
        app = create_app(self.settings, {DeploymentType.LOCAL: self.launcher})
        with ExitStack() as stack:
            portal = stack.enter_context(
                start_blocking_portal("asyncio", {"use_uvloop": True}, name="master")
            )
            stack.enter_context(portal.wrap_async_context_manager(app.router.lifespan_context(app)))
            transport = PortalTransport(portal, app)
            self.app, self.portal = app, portal
            token = admin_token_path(self.data_dir).read_text().strip()
            self.api = stack.enter_context(
                httpx.Client(
                    transport=transport,
                    base_url=URL + "/api/v1",
                    headers={"Authorization": f"Bearer {token}"},
                )
            )
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stack.close()

    def register(self, worker_id: str) -> dict[str, Any]:
        """The worker's latest instance registers through the agent route, as a real one does."""
        launched = wait_for(lambda: self.launcher.launched(worker_id), what=f"{worker_id} launched")
        body = {
            "worker_id": worker_id,
            "instance_id": uuid.uuid4().hex,
            "pid": launched[-1].pid,
            "hostname": "fake-host",
            "cpu_ids": [0, 1],
            "version": "test",
        }
        headers = as_worker(self.data_dir, worker_id)
        r = self.api.post(self.url + REGISTER_PATH, json=body, headers=headers)
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()
        return answer
