"""`python -m kennel serve` (what `make run` starts): everything comes up, a child that dies is
started again, one that keeps dying stops the group and says which, and Ctrl-C leaves nothing
behind — no process, no listening port."""

import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tests.ops.conftest import (
    ROLES,
    ROOT,
    Shop,
    prepare_database,
    shop_env,
    start_serve,
    stop_serve,
)
from tests.ops.processes import (
    alive,
    children_of,
    command_line,
    descendants_of,
    free_port,
    in_process_group,
    listening,
    survivors,
    wait_for,
    wait_until,
)


def test_serve_starts_shop_worker_and_sandbox_and_ctrl_c_stops_them_all(tmp_path):
    prepare_database(tmp_path, demo=False)
    shop = start_serve(tmp_path, web_workers=1)
    try:
        assert wait_for(shop.url("/health/")).json()["database"] == "ok"
        assert wait_for(shop.sandbox_url()).status_code == 200
        started = children_of(shop.process.pid)
        assert len(started) == 3, shop.log_text()  # web server, worker, sandbox
        everything = shop.processes()  # granian's worker too

        shop.process.send_signal(signal.SIGINT)
        shop.process.wait(timeout=20)

        assert wait_until(lambda: not any(alive(pid) for pid in everything), timeout=2)
        assert shop.process.returncode == 0
        assert not listening(shop.port)
        assert not listening(shop.sandbox_port)
    finally:
        stop_serve(shop)


def test_serve_runs_the_worker_processes_asked_for_and_restarts_the_one_that_dies(tmp_path):
    prepare_database(tmp_path, demo=False)
    shop = start_serve(tmp_path, web_workers=1, settings={"WORKER_PROCESSES": "2"})

    def workers() -> list[int]:
        return [p for p in children_of(shop.process.pid) if ROLES["worker"] in command_line(p)]

    try:
        assert wait_for(shop.url("/health/"), status=200)
        assert wait_until(lambda: len(workers()) == 2, timeout=30), shop.log_text()
        started = dict(re.findall(r"started the (worker \d) \(pid (\d+)\)", shop.log_text()))
        assert sorted(started) == ["worker 1", "worker 2"], shop.log_text()
        killed, kept = int(started["worker 2"]), int(started["worker 1"])
        assert sorted(workers()) == sorted([killed, kept])

        os.kill(killed, signal.SIGKILL)

        def replaced() -> bool:
            now = workers()  # one look: the kill lands whenever the kernel gets to it
            return len(now) == 2 and killed not in now

        assert wait_until(replaced, timeout=30), shop.log_text()
        assert kept in workers()  # the other went on working meanwhile
        [replacement] = [pid for pid in workers() if pid != kept]
        said = f"restarted the worker 2 (pid {replacement})"  # logged just after it starts
        assert wait_until(lambda: said in shop.log_text(), timeout=5), shop.log_text()
        assert "the worker 2 exited (killed by SIGKILL)" in shop.log_text()
        everything = shop.processes()

        shop.process.send_signal(signal.SIGINT)
        shop.process.wait(timeout=20)

        assert shop.process.returncode == 0
        assert wait_until(lambda: not any(alive(pid) for pid in everything), timeout=2)
    finally:
        stop_serve(shop)


@pytest.mark.parametrize("role", ["web server", "worker", "sandbox"])
def test_a_child_killed_with_sigkill_is_started_again_and_answers(running_shop: Shop, role):
    shop = running_shop
    wait_for(shop.url("/health/"), status=200)
    wait_for(shop.sandbox_url(), status=200)
    killed = shop.child(role)
    assert killed, shop.log_text()
    left_behind = descendants_of(killed)
    shop.seen.update(left_behind)  # granian's workers outlive a killed master

    os.kill(killed, signal.SIGKILL)

    assert wait_until(lambda: shop.child(role) not in (None, killed), timeout=30), shop.log_text()
    if role == "sandbox":
        assert wait_for(shop.sandbox_url(), timeout=30, status=200)
    else:
        assert wait_for(shop.url("/health/"), timeout=30, status=200)
    replacement = shop.child(role)
    time.sleep(1)
    assert replacement, shop.log_text()
    assert alive(replacement), shop.log_text()  # it stays up
    assert not [pid for pid in left_behind if alive(pid)]
    log = shop.log_text()
    assert f"the {role} exited (killed by SIGKILL)" in log
    assert f"restarted the {role} (pid {replacement})" in log
    assert shop.process.poll() is None


def test_a_dead_web_worker_is_replaced_and_the_other_answers_meanwhile(running_shop: Shop):
    shop = running_shop
    wait_for(shop.url("/health/"), status=200)
    master = shop.child("web server")
    assert master
    workers = children_of(master)
    assert len(workers) == 2

    os.kill(workers[0], signal.SIGKILL)
    # Until the kernel has ended it, the killed worker may still accept a connection (and
    # reset it as it dies): the other one answers from then on.
    assert wait_until(lambda: not alive(workers[0]), timeout=10)

    for _ in range(5):
        assert httpx.get(shop.url("/health/"), timeout=5).status_code == 200
    assert wait_until(lambda: len(children_of(master)) == 2, timeout=30), shop.log_text()
    assert shop.child("web server") == master


def test_a_child_that_keeps_dying_stops_the_group_and_says_which(tmp_path):
    prepare_database(tmp_path, demo=False)
    # Something else already listens on the sandbox's port: the sandbox cannot start, ever.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        shop = start_serve(tmp_path, sandbox_port=taken.getsockname()[1], web_workers=1)
        try:
            # Meanwhile the shop is up: one failing child does not take it down.
            assert wait_for(shop.url("/health/"), status=200)
            everything = shop.processes()

            shop.process.wait(timeout=120)  # 0.5 + 1 + 2 + 4 + 8 s of pauses, and starts

            log = shop.log_text()
            assert shop.process.returncode == 1, log
            assert log.count("restarted the sandbox") == 5
            assert (
                "serve stopped: the sandbox is in a crash loop: it was restarted 5 times within "
                "60 s and died again (exit status 1); everything is stopped"
            ) in log
            assert "the web server stopped" in log
            assert "the worker stopped" in log
            assert wait_until(lambda: not any(alive(pid) for pid in everything), timeout=2)
            assert not listening(shop.port)
        finally:
            stop_serve(shop)


def test_when_serve_itself_is_killed_its_children_go_too(tmp_path):
    prepare_database(tmp_path, demo=False)
    shop = start_serve(tmp_path)
    try:
        assert wait_for(shop.url("/health/"), status=200)
        assert wait_for(shop.sandbox_url(), status=200)
        everything = shop.processes()
        assert len(everything) == 5  # granian and its 2 workers, worker, sandbox

        shop.process.kill()  # no chance to stop anything itself
        shop.process.wait(timeout=10)

        gone = wait_until(lambda: not any(alive(pid) for pid in everything), timeout=15)
        assert gone, f"still running: {survivors(everything)}\n{shop.log_text()[-3000:]}"
        assert not listening(shop.port)
        assert not listening(shop.sandbox_port)
    finally:
        stop_serve(shop)


def test_ctrl_c_on_make_run_leaves_no_process_and_nothing_listening(tmp_path):
    """Ctrl-C in a terminal sends SIGINT to make's whole foreground process group."""
    port, sandbox_port = free_port(), free_port()
    env = shop_env(tmp_path, port=port, sandbox_port=sandbox_port)
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):  # when the suite itself runs under make
        env.pop(name, None)
    # `-o .venv/.installed`: a test does not reinstall the project, it runs it.
    command = ["make", "--no-print-directory", "-o", ".venv/.installed", "run"]
    command.append(f"PY={sys.executable}")
    log = tmp_path / "make-run.log"
    with log.open("ab") as out:
        make = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, as a terminal's job is
        )  # fmt: skip
    everything = []
    try:
        assert wait_for(f"http://127.0.0.1:{port}/health/", timeout=240, status=200)
        assert wait_for(f"http://127.0.0.1:{sandbox_port}/", timeout=30, status=200)
        everything = descendants_of(make.pid)
        assert len(everything) >= 6, log.read_text()  # serve, granian + 2 workers, worker, sandbox

        os.killpg(make.pid, signal.SIGINT)
        make.wait(timeout=30)

        assert wait_until(lambda: not in_process_group(make.pid), timeout=2)
        assert wait_until(lambda: not any(alive(pid) for pid in everything), timeout=2)
        assert not listening(port)
        assert not listening(sandbox_port)
    finally:
        everything += descendants_of(make.pid)
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait(timeout=10)
        for pid in everything:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


class SlowClient(threading.Thread):
    """A raw connection that sends `head` at once and then `trickle` one byte at a time,
    reconnecting whenever the server hangs up, until stopped."""

    def __init__(self, port: int, head: bytes, trickle: bytes, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.port, self.head, self.trickle, self.stop = port, head, trickle, stop
        self.cut_off = 0  # times the server closed the connection
        self.answered = False
        self.connected = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as conn:
                    conn.sendall(self.head)
                    self.connected.set()
                    for byte in self.trickle:
                        if self.stop.wait(0.2):
                            return
                        conn.sendall(bytes([byte]))
                        if select.select([conn], [], [], 0)[0]:
                            if not conn.recv(65536):
                                raise ConnectionResetError("closed by the server")
                            self.answered = True
            except OSError:
                self.cut_off += 1
                self.stop.wait(0.2)


def test_slow_clients_do_not_stop_the_shop_answering(running_shop: Shop):
    shop = running_shop
    for _ in range(10):  # every worker has imported what the pages need
        wait_for(shop.url("/"), status=200)
        wait_for(shop.url("/health/"), status=200)
    stop = threading.Event()
    # Headers that never end; and a webhook whose body never arrives (the view reads it).
    endless_headers = b"Host: 127.0.0.1\r\nX-Slow: " + b"a" * 10**5
    slow_headers = [
        SlowClient(shop.port, b"GET / HTTP/1.1\r\n", endless_headers, stop) for _ in range(10)
    ]
    body_head = (
        b"POST /webhooks/stripe/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n"
    )
    slow_bodies = [SlowClient(shop.port, body_head, b"{" + b" " * 99999, stop) for _ in range(10)]
    clients = slow_headers + slow_bodies
    took: list[tuple[str, object, float]] = []
    try:
        for client in clients:
            client.start()
        assert all(client.connected.wait(10) for client in clients)
        time.sleep(1)  # the bodies' requests have reached the app, each holding a thread

        deadline = time.monotonic() + 12  # two of the header read timeouts (5 s)
        while time.monotonic() < deadline:
            for path in ("/health/", "/"):
                start = time.monotonic()
                try:
                    answer: object = httpx.get(shop.url(path), timeout=3).status_code
                except httpx.HTTPError as exc:
                    answer = exc
                took.append((path, answer, round(time.monotonic() - start, 3)))
            time.sleep(0.3)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=5)

    # A page waiting for a slow client's thread would wait for its read timeout (5 s) and
    # time out here (3 s); 2 s leaves a loaded machine its time.
    assert [t for t in took if t[1] != 200 or t[2] > 2.0] == [], took
    assert len(took) >= 20
    # The slow clients really were there: the bodies held on (never cut, never answered);
    # the header tricklers were hung up on by the header read timeout.
    assert [(c.cut_off, c.answered) for c in slow_bodies] == [(0, False)] * 10
    assert all(c.cut_off >= 1 for c in slow_headers), [c.cut_off for c in slow_headers]
    assert shop.process.poll() is None, shop.log_text()


def test_sigterm_after_restarts_stops_every_replacement_too(running_shop: Shop):
    # Last in this module: the shop above had each of its children killed and replaced.
    shop = running_shop
    everything = shop.processes()
    stop_serve(shop)
    assert shop.process.returncode == 0
    assert wait_until(lambda: not any(alive(pid) for pid in everything), timeout=2)
    assert not listening(shop.port)
    assert not listening(shop.sandbox_port)
