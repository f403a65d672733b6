"""A TCP relay on 127.0.0.1 that cuts its first connection mid-response: a network that drops.

Every connection is relayed to ``target`` both ways; on the first one, once ``cut_after`` bytes of
the response have gone through, both sides are closed (the client sees its connection break in
the middle of the stream).  Later connections are relayed whole.  :attr:`connections` counts them.
"""

from __future__ import annotations

import socket
import threading

from .proxy import HOST


class CuttingRelay:
    def __init__(self, target_port: int, cut_after: int) -> None:
        self.target_port = target_port
        self.cut_after = cut_after
        self.connections = 0
        self._listener = socket.create_server((HOST, 0))
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            self.connections += 1
            upstream = socket.create_connection((HOST, self.target_port))
            limit = self.cut_after if self.connections == 1 else None
            for source, sink, cap in ((client, upstream, None), (upstream, client, limit)):
                thread = threading.Thread(target=self._pipe, args=(source, sink, cap, (client, upstream)), daemon=True)
                thread.start()
                self._threads.append(thread)

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket, cap: int | None, both: tuple[socket.socket, ...]) -> None:
        sent = 0
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if cap is not None and sent + len(data) >= cap:
                    sink.sendall(data[:cap - sent])
                    break
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        if cap is not None or not data:
            for sock in both:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def close(self) -> None:
        self._listener.close()

    def __enter__(self) -> CuttingRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
