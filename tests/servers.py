"""Real servers for tests: a free loopback port, a process started in its own session, waited
for until it answers, and stopped by its process id."""

import os
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def running(args: list[str], ready_url: str, env: dict, log: Path, timeout: float = 180):
    """Start `args`, wait until `ready_url` answers 200, yield the process; stop it after."""
    with log.open("w") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.time() + timeout
        while not answers(ready_url):
            assert proc.poll() is None, f"{args[0]} exited: {log.read_text()[-3000:]}"
            assert time.time() < deadline, f"{ready_url} not up: {log.read_text()[-3000:]}"
            time.sleep(0.5)
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the process id (the server stops its workers); the whole group if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: only what it started
            proc.wait()
