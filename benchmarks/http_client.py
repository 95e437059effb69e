"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for load generation.

The venv has no asyncio HTTP client (aiohttp, httpx), and ``requests`` in threads costs
the generator more CPU per request than the server spends on some calls. On a machine
whose cores are shared with the server under test, that would measure the client. This
speaks just enough HTTP for our own API: one request at a time per connection,
Content-Length or chunked bodies, reconnect when the server closed an idle connection.
"""

import asyncio
import contextlib


class HttpError(Exception):
    """The server's answer could not be read as HTTP/1.1."""


class Connection:
    """One keep-alive connection (or, with ``keep_alive=False``, a new one per request); its
    fixed headers (cookies, CSRF) go with every request."""

    def __init__(
        self,
        host: str,
        port: int,
        headers: dict[str, str] | None = None,
        *,
        keep_alive: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        fixed = {"Host": f"{host}:{port}", **(headers or {})}
        if not keep_alive:  # as a reverse proxy speaks to its upstream: one request each
            fixed["Connection"] = "close"
        self._fixed = "".join(f"{name}: {value}\r\n" for name, value in fixed.items()).encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def request(
        self, method: str, path: str, body: bytes = b"", content_type: str | None = None
    ) -> tuple[int, bytes]:
        """Sends one request and returns (status, body). Retries once on a stale connection."""
        head = f"{method} {path} HTTP/1.1\r\n".encode() + self._fixed
        if content_type:
            head += f"Content-Type: {content_type}\r\n".encode()
        if body or method in ("POST", "PUT", "PATCH"):
            head += f"Content-Length: {len(body)}\r\n".encode()
        message = head + b"\r\n" + body
        for attempt in (1, 2):
            if self._writer is None:
                await self._connect()
            assert self._reader is not None
            assert self._writer is not None
            self._writer.write(message)
            try:
                status_line = await self._reader.readline()
            except ConnectionError:
                status_line = b""
            if status_line:
                return await self._read_response(status_line)
            await self.close()  # closed while idle (keep-alive timeout): try a fresh one
            if attempt == 2:
                raise HttpError(f"{method} {path}: connection closed without an answer")
        raise AssertionError("unreachable")

    async def _read_response(self, status_line: bytes) -> tuple[int, bytes]:
        assert self._reader is not None
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise HttpError(f"not an HTTP status line: {status_line!r}")
        status = int(parts[1])
        length: int | None = None
        chunked = False
        close = parts[0] == b"HTTP/1.0"
        while True:
            line = await self._reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        if status in (204, 304) or 100 <= status < 200:
            body = b""
        elif chunked:
            body = await self._read_chunked()
        elif length is not None:
            body = await self._reader.readexactly(length)
        else:
            body = await self._reader.read()
            close = True
        if close:
            await self.close()
        return status, body

    async def _read_chunked(self) -> bytes:
        assert self._reader is not None
        chunks = []
        while True:
            size = int((await self._reader.readline()).split(b";")[0], 16)
            if size == 0:
                while (await self._reader.readline()) not in (b"\r\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)
