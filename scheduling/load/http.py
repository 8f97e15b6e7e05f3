"""A small HTTP/1.1 client on asyncio streams, keep-alive, for the load test's clients.

Thirty clients in one process must cost the machine little next to the server they measure:
a thread and `requests` per client would take a good part of a core at a few hundred
requests a second; this takes a few percent."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from typing import Any


@dataclasses.dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class Connection:
    """One kept-alive connection to host:port; reopened when the server closes it."""

    def __init__(self, host: str, port: int, *, timeout: float = 30.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, body: Any = None
    ) -> Answer:
        payload = b"" if body is None else json.dumps(body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        message = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
        reused = self._writer is not None
        try:
            # asyncio.timeout, not wait_for: no task made for every request.
            async with asyncio.timeout(self.timeout):
                return await self._exchange(message)
        except ConnectionResetError:
            await self.close()
            if not reused:
                raise
            # A kept-alive connection the server had closed before reading this request:
            # nothing was received, so once more on a new connection.
            async with asyncio.timeout(self.timeout):
                return await self._exchange(message)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            await self.close()
            raise

    async def _exchange(self, message: bytes) -> Answer:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(message)
        await self._writer.drain()
        try:
            # The status line and every header in one read, not one await per line.
            head = await self._reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as cut:
            if not cut.partial:
                raise ConnectionResetError("closed by the server") from None
            raise
        status_line, *lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunks()
        else:
            body = await self._reader.readexactly(int(headers.get("content-length", 0)))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Answer(status, headers, body)

    async def _chunks(self) -> bytes:
        assert self._reader is not None
        parts = []
        while size := int((await self._reader.readline()).split(b";")[0], 16):
            parts.append(await self._reader.readexactly(size))
            await self._reader.readline()
        await self._reader.readline()
        return b"".join(parts)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
