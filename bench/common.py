"""What every benchmark here shares: ports, the database, wrk, a small HTTP client, memory.

Nothing here imports Django: the bench's own process only drives load and reads figures.
"""

import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sandbox.stripe import signing

ROOT = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432"


def seconds(name: str = "BENCH_SECONDS", default: float = 15.0) -> float:
    return float(os.environ.get(name) or default)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def psql(sql: str, *, db: str = "postgres") -> str:
    return subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-qAtX", "-v", "ON_ERROR_STOP=1"],
        input=sql,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def database_reset(name: str) -> str:
    """An empty PostgreSQL database `name` (dropped first if it exists); returns its URL."""
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);')
    psql(f'CREATE DATABASE "{name}";')
    return f"{PG}/{name}"


def database_drop(name: str) -> None:
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);')


# --- latency figures ---------------------------------------------------------------------


@dataclass
class Figure:
    """One measured load: requests/s and latency percentiles (ms), plus what went wrong."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int = 0
    errors: int = 0  # non-2xx/3xx answers and socket errors
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls, latencies: list[float], *, done: int, seconds: float, errors: int, **detail: Any
    ) -> "Figure":
        """`done` things in `seconds`, with these latencies (ms)."""
        return cls(
            rps=done / seconds if seconds else 0.0,
            p50_ms=percentile(latencies, 0.5),
            p99_ms=percentile(latencies, 0.99),
            requests=len(latencies),
            errors=errors,
            detail=detail,
        )

    def as_json(self) -> dict[str, Any]:
        out = {"rps": round(self.rps, 1), "p50_ms": round(self.p50_ms, 2)}
        out |= {"p99_ms": round(self.p99_ms, 2), "requests": self.requests, "errors": self.errors}
        return out | self.detail


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1]


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(
    url: str,
    *,
    duration: float,
    connections: int,
    threads: int = 2,
    script: Path | None = None,
    allow_non_2xx: bool = False,
) -> Figure:
    """wrk against `url` (latencies from its --latency distribution)."""
    if not shutil.which("wrk"):
        raise SystemExit("the bench needs wrk (Debian package 'wrk'): `make bench` installs it")
    threads = max(1, min(threads, connections))
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s"]
    command += ["--latency", "--timeout", "10s"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if script is not None:
        command += ["--", str(threads)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if not (rps and total and p50 and p99):
        raise RuntimeError(f"wrk said:\n{out}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    if errors and not allow_non_2xx:
        raise RuntimeError(f"wrk saw {errors} errors on {url}:\n{out}")
    statuses: dict[str, int] = {}
    for status, count in re.findall(r"^status (\d+) (\d+)$", out, re.M):
        statuses[status] = statuses.get(status, 0) + int(count)
    return Figure(
        rps=float(rps.group(1)),
        p50_ms=_ms(p50.group(1)),
        p99_ms=_ms(p99.group(1)),
        requests=int(total.group(1)),
        errors=errors,
        detail={"statuses": statuses} if statuses else {},
    )


# --- a small HTTP/1.1 client (keep-alive, no parsing beyond what the bench needs) ---------


class Connection:
    """One keep-alive connection; `request` returns (status, body). Not for concurrent use."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        for attempt in (1, 2):  # a kept-alive connection the server closed: open a new one
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None
            head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            for name, value in (headers or {}).items():
                head += f"{name}: {value}\r\n"
            head += f"Content-Length: {len(body)}\r\n\r\n"
            try:
                self.writer.write(head.encode() + body)
                await self.writer.drain()
                status_line = await self.reader.readline()
                if not status_line:
                    raise ConnectionResetError
                length, close = 0, False
                while (line := await self.reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                    elif name.lower() == "connection" and "close" in value.lower():
                        close = True
                data = await self.reader.readexactly(length) if length else b""
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt == 2:
                    raise
                continue
            if close:
                await self.close()
            return int(status_line.split()[1]), data
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


# --- Stripe deliveries -------------------------------------------------------------------


def stripe_signature(body: bytes, secret: str, at: int | None = None) -> str:
    """Signed as Stripe (and the sandbox, whose signing this is) signs a delivery."""
    return signing.signature(secret, body, int(time.time()) if at is None else at)


def wrk_posts_script(path: Path, requests: Iterable[tuple[str, bytes, dict[str, str]]]) -> Path:
    """A wrk Lua script cycling over the given (path, body, headers) POSTs (kept in a data
    file beside it, one a line) in their order, wrk's threads interleaved (pass the thread
    count as the script's argument: `wrk ... -s script.lua URL -- 2`). Bodies must be one
    line. Pre-signed deliveries stay valid for STRIPE_WEBHOOK_TOLERANCE (5 minutes)."""
    data = path.with_suffix(".tsv")
    with data.open("w") as out:
        for url_path, body, headers in requests:
            if b"\n" in body or b"\t" in body:
                raise ValueError("a body for wrk must be one line without tabs")
            fields = [url_path, *(x for kv in headers.items() for x in kv), body.decode()]
            out.write("\t".join(fields) + "\n")
    path.write_text(
        f"""local data = {json.dumps(str(data))}
local requests = {{}}
local counter = 0
local offset = 0
local step = 1
local threads = 0
local all_threads = {{}}
statuses = {{}}
function setup(thread)
  thread:set("offset", threads)
  threads = threads + 1
  all_threads[#all_threads + 1] = thread
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  for _, thread in ipairs(all_threads) do
    local counts = thread:get("statuses")
    for status, count in pairs(counts) do io.write("status ", status, " ", count, "\\n") end
  end
end
function init(args)
  for line in io.lines(data) do
    local fields = {{}}
    for f in string.gmatch(line, "[^\\t]+") do fields[#fields + 1] = f end
    local headers = {{["Content-Type"] = "application/json"}}
    for i = 2, #fields - 1, 2 do headers[fields[i]] = fields[i + 1] end
    requests[#requests + 1] = wrk.format("POST", fields[1], headers, fields[#fields])
  end
  step = tonumber(args[1] or "1")
  counter = offset - step
end
function request()
  counter = counter + step
  return requests[(counter % #requests) + 1]
end
"""
    )
    return path


# --- a webhook sink (where the sandbox's own deliveries go while the bench delivers) -------


class Sink:
    """Answers 200 to every POST and keeps the Stripe bodies by their session id."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.startswith("/webhooks/stripe/"):
                    try:
                        event = json.loads(body)
                        if event.get("type") == "checkout.session.completed":
                            with sink.lock:
                                sink.bodies[event["data"]["object"]["id"]] = body
                    except (ValueError, KeyError, TypeError):
                        pass
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- memory ------------------------------------------------------------------------------


def _proc_table() -> dict[int, int]:
    """pid -> parent pid, for every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # the command name is in parentheses and may contain spaces
        table[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return table


def descendants(pid: int) -> list[int]:
    table = _proc_table()
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in table.items() if pp == parent]
        found += children
        frontier += children
    return found


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
