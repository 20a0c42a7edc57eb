"""`mer run` when the Prefect server is down or goes away: a clear message, exit code 2, and the
next run resumes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

import flows.pipeline
import flows.run
from flows.server import ServerUnavailable, free_port


def test_a_dedicated_server_that_does_not_answer_is_named(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/api"
    monkeypatch.setenv("PREFECT_API_URL", url)
    started = []
    monkeypatch.setattr(flows.pipeline, "pipeline", lambda *a, **k: started.append(a))

    assert flows.run.main(["--root", str(tmp_path)]) == 2

    error = capsys.readouterr().err
    assert f"the Prefect server at {url} does not answer" in error
    assert "unset PREFECT_API_URL" in error
    assert started == []  # nothing ran


def test_a_server_lost_during_the_run_is_named(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/api"
    monkeypatch.setenv("PREFECT_API_URL", url)
    answers = iter([None])  # healthy when the run starts, gone afterwards

    def health(checked: str) -> None:
        if next(answers, "gone") == "gone":
            raise ServerUnavailable(f"the Prefect server at {checked} does not answer")

    def lose_the_server(*args: object, **kwargs: object) -> None:
        raise ConnectionError("connection refused while reporting a task state")

    monkeypatch.setattr(flows.run, "check_server", health)
    monkeypatch.setattr(flows.run, "drain_prefect", lambda: None)
    monkeypatch.setattr(flows.pipeline, "pipeline", lose_the_server)

    assert flows.run.main(["--root", str(tmp_path)]) == 2
    assert "does not answer. Stages finished before are kept" in capsys.readouterr().err


def test_a_failure_with_the_server_up_is_not_blamed_on_it(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setattr(flows.run, "check_server", lambda url: None)
    monkeypatch.setattr(flows.run, "drain_prefect", lambda: None)

    def bug(*args: object, **kwargs: object) -> None:
        raise KeyError("a bug in a stage")

    monkeypatch.setattr(flows.pipeline, "pipeline", bug)
    with pytest.raises(KeyError, match="a bug in a stage"):
        flows.run.main(["--root", str(tmp_path)])


def _descendant(process: subprocess.Popen[bytes], words: str,
                timeout: float = 300) -> psutil.Process:
    """Wait for a descendant of ``process`` whose command line contains ``words``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        for child in psutil.Process(process.pid).children(recursive=True):
            try:
                if words in " ".join(child.cmdline()):
                    return child
            except psutil.Error:
                continue
        time.sleep(0.1)
    raise AssertionError(f"no process running {words!r}")


@pytest.mark.slow
def test_a_server_killed_during_a_stage_is_named_and_the_next_run_resumes(
        quick_project: Path, tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    bin_dir = str(Path(sys.executable).parent)
    env |= {"PATH": os.pathsep.join([bin_dir, env.get("PATH", "")]),
            "PREFECT_HOME": str(tmp_path / "prefect"),
            "PREFECT_CLIENT_MAX_RETRIES": "0"}  # fail at once instead of backing off
    command = [str(Path(bin_dir) / "mer"), "run", "--root", str(quick_project),
               "--target", "faces@micro"]
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        run = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = _descendant(run, "server start")
    _descendant(run, "mer faces")
    server.kill()
    assert run.wait(timeout=600) == 2, log.read_text()[-3000:]
    assert "does not answer" in log.read_text() and "run again to resume" in log.read_text()

    again = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "faces@micro" in again.stdout
