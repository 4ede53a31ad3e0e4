"""A TCP proxy on 127.0.0.1 that can turn into a black hole: a database host gone silent.

In ``pass`` mode it forwards both ways. In ``blackhole`` mode it keeps every connection
open and accepts new ones, but moves no byte in either direction: what a host does that
accepts connections and never answers. Back in ``pass`` mode, bytes flow again.
"""

import selectors
import socket
import threading


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target_port``; ``blackhole`` stops every byte."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.passing = threading.Event()
        self.passing.set()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept)

    def blackhole(self) -> None:
        """Stop moving bytes; connections stay open and new ones are accepted."""
        self.passing.clear()

    def resume(self) -> None:
        """Move bytes again."""
        self.passing.set()

    def close(self) -> None:
        """Stop the proxy and drop every connection."""
        self._stop.set()
        self.passing.set()
        self._listener.close()

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._spawn(self._connect, client)

    def _connect(self, client: socket.socket) -> None:
        self.passing.wait()
        try:
            server = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
        except OSError:
            client.close()
            return
        self._pump(client, server)

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        """Move bytes between two sockets while passing; close both when one side ends."""
        peer = {a: b, b: a}
        with selectors.DefaultSelector() as sel:
            sel.register(a, selectors.EVENT_READ)
            sel.register(b, selectors.EVENT_READ)
            while not self._stop.is_set():
                self.passing.wait()
                for key, _ in sel.select(timeout=0.2):
                    if not self.passing.is_set():
                        break
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    try:
                        data = sock.recv(65536)
                        if not data:
                            raise ConnectionError
                        peer[sock].sendall(data)
                    except OSError:
                        a.close()
                        b.close()
                        return
        a.close()
        b.close()
