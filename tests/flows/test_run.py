"""`mer run` when the Prefect server is down or goes away: a clear message, exit code 2."""

from __future__ import annotations

from pathlib import Path

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
