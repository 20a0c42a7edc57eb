"""The report's top in headless Chromium: the forest plot is on screen, the baseline in orange.

Skipped where Chromium is not installed (``apt-get install -y chromium`` on Debian).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mer.report import ReportInputs, build_report, parse_comparisons

CHROMIUM = next((found for name in ("chromium", "chromium-browser", "google-chrome")
                 if (found := shutil.which(name))), None)
ORANGE, BLUE = (0xD9, 0x73, 0x0D), (0x1F, 0x5F, 0xA8)


def _scores(uf1: float) -> dict[str, object]:
    return {"uf1": uf1, "uf1_ci": [uf1 - 0.08, uf1 + 0.08], "uar": uf1,
            "uar_ci": [uf1 - 0.08, uf1 + 0.08], "accuracy": uf1, "n_clips": 40,
            "n_subjects": 8}


def _count(pixels: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int((np.abs(pixels[..., :3].astype(int) - colour).sum(axis=-1) < 30).sum())


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_forest_plot_is_on_screen_at_the_top(tmp_path: Path) -> None:
    metrics = {name: {"all": _scores(uf1)} for name, uf1 in
               [("lightman", 0.55), ("lightman_no_aux", 0.5), ("flow_logreg", 0.42)]}
    comparisons = parse_comparisons({"baseline": "flow_logreg", "rows": []}, "c.json")
    page = tmp_path / "index.html"
    page.write_text(build_report(ReportInputs(metrics=metrics, comparisons=comparisons)),
                    encoding="utf-8")
    png = tmp_path / "top.png"
    assert CHROMIUM is not None
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", f"--user-data-dir={tmp_path / 'p'}",
                    f"--screenshot={png}", "--window-size=1280,700", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    pixels = np.asarray(Image.open(png).convert("RGB"))
    assert pixels.shape[:2] == (700, 1280)
    assert _count(pixels, ORANGE) > 50  # the baseline's dot, interval and line
    assert _count(pixels, BLUE) > 2 * 50  # the two other models
