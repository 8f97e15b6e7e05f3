"""The processes of the production stack, started and stopped by the load test: gunicorn,
the delivery workers, the sweeper (which also runs the PMS pulls) and the five PMS
simulators, each writing its output to a file of its own."""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

# The ports the demo connections name (scheduling.demo); `make run` uses the same ones.
SIMULATOR_PORTS = {"dentalink": 8101, "flextell": 8102, "nexhealth": 8103, "meddbase": 8104,
                   "treatsvet": 8105}  # fmt: skip
MANAGE = [sys.executable, "manage.py"]


class StackError(RuntimeError):
    """A process would not start, or a port it needs is taken."""


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.closing(socket.socket()) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


class Stack:
    def __init__(self, *, web_port: int, logs: pathlib.Path, web_workers: int = 2,
                 web_threads: int = 1, delivery_workers: int = 2,
                 worker_threads: int = 16) -> None:  # fmt: skip
        self.web_port = web_port
        self.logs = logs
        self.web_workers = web_workers
        self.web_threads = web_threads
        self.delivery_workers = delivery_workers
        self.worker_threads = worker_threads
        self.processes: dict[str, subprocess.Popen] = {}
        self.restarts = 0

    def _start(self, name: str, command: list[str], **env: str) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (the process keeps it)
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            start_new_session=True,  # a kill reaches the process group, not this one
        )
        log.close()
        self.processes[name] = process
        return process

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        for old in self.logs.glob("*.log"):  # this run's output only
            old.unlink()
        taken = [p for p in (self.web_port, *SIMULATOR_PORTS.values()) if port_answers(p)]
        if taken:
            raise StackError(
                f"Ports {taken} are in use (is `make run` running?): stop what holds them."
            )
        for vendor, port in SIMULATOR_PORTS.items():
            extra = ["--patients", "300"] if vendor == "nexhealth" else []
            self._start(vendor, [*MANAGE, "simulate_vendor", vendor, "--port", str(port), *extra])
        self._start(
            "web",
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
            GUNICORN_BIND=f"127.0.0.1:{self.web_port}",
            GUNICORN_WORKERS=str(self.web_workers),
            GUNICORN_THREADS=str(self.web_threads),
        )
        for index in range(1, self.delivery_workers + 1):
            self.start_worker(index)
        self._start("sweeper", [*MANAGE, "deliver", "--loop", "--threads", "4"])
        self.wait_for_ports([self.web_port, *SIMULATOR_PORTS.values()])

    def start_worker(self, index: int) -> None:
        self._start(
            f"worker{index}",
            [
                *MANAGE,
                "task_worker",
                "--no-reload",
                "--threads",
                str(self.worker_threads),
                "--interval",
                "0.2",
                "--no-startup-delay",
            ],
        )

    def kill_worker(self, index: int) -> int:
        """SIGKILL, as a machine or the kernel's OOM killer would: no clean-up at all."""
        process = self.processes[f"worker{index}"]
        process.kill()
        process.wait()
        return process.pid

    def restart_worker(self, index: int) -> None:
        self.restarts += 1
        self.start_worker(index)

    def wait_for_ports(self, ports: list[int], *, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        waiting = list(ports)
        while waiting:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise StackError(
                        f"{name} stopped at start (exit {process.returncode}): see "
                        f"{self.logs / (name + '.log')}"
                    )
            waiting = [port for port in waiting if not port_answers(port)]
            if waiting and time.monotonic() > deadline:
                raise StackError(f"Nothing answers on ports {waiting} after {seconds:.0f} s.")
            time.sleep(0.2)

    def died(self) -> list[str]:
        """The processes that stopped by themselves (a killed worker is restarted)."""
        return [name for name, process in self.processes.items() if process.poll() is not None]

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.1, deadline - time.monotonic()))
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


# What stops the load test: Ctrl-C (to make, its shell and this process alike) or a kill.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.strsignal(signum))


@contextlib.contextmanager
def running(stack: Stack) -> Iterator[Stack]:
    """The stack, started; stopped however this ends. A SIGTERM ends it as Ctrl-C does, and
    while the processes are being stopped a second signal (make passes Ctrl-C on, then
    stops) is ignored: cut short, the stop would leave them running on their ports."""
    previous = signal.signal(signal.SIGTERM, _interrupted)
    try:
        stack.start()
        yield stack
    finally:
        handlers = {number: signal.signal(number, signal.SIG_IGN) for number in STOP_SIGNALS}
        try:
            stack.stop()
        finally:
            for number, handler in handlers.items():
                signal.signal(number, handler)
            signal.signal(signal.SIGTERM, previous)


def _cpu_by_session() -> dict[int, float]:
    """CPU seconds (user + system) of every live process, summed by session ID; PostgreSQL's
    processes under session -1."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        command = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        session = -1 if command.startswith("postgres") else int(fields[3])
        # Its own time and that of its children that ended (gunicorn's replaced workers,
        # PostgreSQL's closed backends): each CPU second counted once.
        used = sum(int(fields[index]) for index in (11, 12, 13, 14)) / ticks
        found[session] = found.get(session, 0.0) + used
    return found


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU used so far by each process of the stack (with its children), PostgreSQL and this
    process (the clients)."""
    by_session = _cpu_by_session()
    used = {name: by_session.get(process.pid, 0.0) for name, process in stack.processes.items()}
    used["postgres"] = by_session.get(-1, 0.0)
    used["clients"] = by_session.get(os.getsid(0), 0.0)
    return used
