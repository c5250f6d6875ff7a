"""A small HTTP/1.1 proxy for S3-compatible servers on 127.0.0.1, for tests and benchmarks.

``S3Proxy(upstream)`` listens on a free port (``endpoint``) and forwards each request to the
``upstream`` endpoint, on its own asyncio loop in a background thread. It can

- ``latency``: wait that many seconds before forwarding each request (a far-away store);
- ``drop_if_none_match``: remove the ``If-None-Match`` header (a store or gateway that ignores
  conditional writes: a put-if-absent then overwrites). The servers used in tests do not check
  request signatures, which a removed header would otherwise break;
- ``reject_if_none_match``: answer a request carrying ``If-None-Match`` with ``501 Not
  Implemented`` (a server that does not implement conditional writes);
- ``bandwidth``: hold each response back ``len(body) / bandwidth`` seconds (bytes per second of
  one response: a whole large object takes long, a small range does not);
- ``requests``: every request seen, as ``(method, path)``; ``range_headers``: each one's
  ``Range`` header (None without one), in the same order; ``max_in_flight``: the most requests
  being answered at once (since the start or ``reset_in_flight()``): reads issued together;
- ``stop()``: close the listener and every connection (an unreachable store from then on).

Requests and responses are relayed as bytes; bodies are delimited by ``Content-Length`` or
chunked encoding (responses to HEAD and 1xx/204/304 have none).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any
from urllib.parse import urlsplit

_NO_BODY = {204, 304}


class S3Proxy:
    def __init__(self, upstream: str, *, latency: float = 0.0, drop_if_none_match: bool = False,
                 reject_if_none_match: bool = False, bandwidth: float | None = None) -> None:
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.latency, self.drop_if_none_match = latency, drop_if_none_match
        self.reject_if_none_match = reject_if_none_match
        self.bandwidth = bandwidth
        self.requests: list[tuple[str, str]] = []
        self.range_headers: list[str | None] = []
        self.in_flight = self.max_in_flight = 0
        self._loop = asyncio.new_event_loop()
        self._connections: set[asyncio.StreamWriter] = set()
        self._server: asyncio.base_events.Server | None = None
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), daemon=True, name="s3-proxy")
        self._thread.start()
        started.wait(10)
        self.port = self._server.sockets[0].getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        started.set()
        self._loop.run_forever()

    def reset_in_flight(self) -> None:
        """Count ``max_in_flight`` from now on."""
        self.max_in_flight = self.in_flight

    def options(self, base: dict[str, Any]) -> dict[str, Any]:
        """``base`` storage options pointed at this proxy."""
        return {**base, "endpoint": self.endpoint}

    def stop(self) -> None:
        """Stop listening and drop every open connection."""
        def close() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._connections):
                writer.transport.abort()
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(close)
            time.sleep(0.05)

    def close(self) -> None:
        self.stop()
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def __enter__(self) -> S3Proxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- relaying ---------------------------------------------------------------------------------
    async def _serve(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        self._connections.add(client_out)
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while True:
                head = await _read_head(client_in)
                if head is None:
                    return
                request_line, headers = head
                method, path = request_line.split(" ")[:2]
                self.requests.append((method, path))
                self.range_headers.append(_header(headers, "range"))
                if self.drop_if_none_match:
                    headers = [(k, v) for k, v in headers if k.lower() != "if-none-match"]
                body = await _read_body(client_in, headers)
                self.in_flight += 1  # (the loop's one thread: no lock)
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    if self.latency:
                        await asyncio.sleep(self.latency)
                finally:
                    self.in_flight -= 1
                if self.reject_if_none_match and _header(headers, "if-none-match") is not None:
                    client_out.write(b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n\r\n")
                    await client_out.drain()
                    continue
                if upstream is None:
                    upstream = await asyncio.open_connection(self.upstream_host, self.upstream_port)
                    self._connections.add(upstream[1])
                up_in, up_out = upstream
                up_out.write(_encode(request_line, headers) + body)
                await up_out.drain()
                response = await _read_head(up_in)
                if response is None:
                    return
                status_line, response_headers = response
                status = int(status_line.split(" ")[1])
                has_body = method != "HEAD" and status not in _NO_BODY and status >= 200
                response_body = await _read_body(up_in, response_headers, to_eof=has_body) if has_body else b""
                if self.bandwidth:
                    await asyncio.sleep(len(response_body) / self.bandwidth)
                client_out.write(_encode(status_line, response_headers) + response_body)
                await client_out.drain()
                if _header(response_headers, "connection") == "close" or up_in.at_eof():
                    up_out.close()
                    self._connections.discard(up_out)
                    upstream = None
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            return
        finally:
            for writer in (client_out, *(() if upstream is None else (upstream[1],))):
                writer.close()
                self._connections.discard(writer)


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v.strip().lower() for k, v in headers if k.lower() == name), None)


def _encode(first_line: str, headers: list[tuple[str, str]]) -> bytes:
    return (first_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n").encode("latin-1")


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, list[tuple[str, str]]] | None:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    first, *lines = raw.decode("latin-1").split("\r\n")
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines if line]
    return first, headers  # type: ignore[return-value]


async def _read_body(reader: asyncio.StreamReader, headers: list[tuple[str, str]], to_eof: bool = False) -> bytes:
    length = _header(headers, "content-length")
    if length is not None:
        return await reader.readexactly(int(length))
    if _header(headers, "transfer-encoding") == "chunked":
        out = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            out += size_line
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                while True:  # trailers, then the empty line
                    line = await reader.readuntil(b"\r\n")
                    out += line
                    if line == b"\r\n":
                        return bytes(out)
            out += await reader.readexactly(size + 2)
    return await reader.read() if to_eof else b""
