"""A local Prefect server shared by a run and every stage it starts.

Without ``PREFECT_API_URL`` each process that runs a flow (the pipeline, every `mer train`)
would start its own temporary server (about 10 s each); one local server for the whole run is
started once, and its URL is exported to the stages.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def local_server(home: Path, timeout: float = 120) -> Iterator[str]:
    """Start ``prefect server start`` on loopback with ``home`` as PREFECT_HOME; yield its API URL
    (also set as PREFECT_API_URL for this process and its children); stop it on exit."""
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    prefect = Path(sys.executable).parent / "prefect"
    server = subprocess.Popen(
        [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/api"
    previous = os.environ.get("PREFECT_API_URL")
    try:
        _wait_healthy(url, server, timeout)
        os.environ["PREFECT_API_URL"] = url
        yield url
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous
        server.terminate()
        server.wait(timeout=30)


class ServerUnavailable(RuntimeError):
    """The Prefect server does not answer; the message names its URL and what to do."""


def check_server(url: str, timeout: float = 5) -> None:
    """Raise :class:`ServerUnavailable` unless ``url``'s ``/health`` answers within ``timeout``."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout):
            return
    except OSError as error:
        reason = getattr(error, "reason", error)
        raise ServerUnavailable(
            f"the Prefect server at {url} does not answer ({reason}); start it, or unset "
            "PREFECT_API_URL to run with a temporary local server") from error


def _wait_healthy(url: str, server: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            check_server(url, timeout=2)
            return
        except ServerUnavailable:
            if server.poll() is not None:
                raise RuntimeError(f"the Prefect server exited (code {server.returncode})") \
                    from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Prefect server was not healthy within {timeout} s") \
                    from None
            time.sleep(0.5)
