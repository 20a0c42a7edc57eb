"""Render the HTML report in headless Chromium and report the screenshot's size.

    .venv/bin/python benchmarks/render_report.py [reports/index.html] [--png out.png]

Chromium runs with networking and background services off and a throw-away profile, so the
screenshot shows what the page looks like offline. Without Chromium it says how to install it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    """The first Chromium found (path or on PATH), else None."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def render(chromium: str, page: Path, png: Path, size: str = "1280,2000") -> float:
    """Screenshot ``page`` into ``png``; return the seconds it took."""
    with tempfile.TemporaryDirectory(prefix="mer-chromium-") as profile:
        argv = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
                f"--screenshot={png}", f"--window-size={size}", page.resolve().as_uri()]
        started = time.perf_counter()
        process = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        seconds = time.perf_counter() - started
    if process.returncode != 0 or not png.is_file():
        raise SystemExit(f"chromium failed ({process.returncode}):\n{process.stderr[-2000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("page", type=Path, nargs="?", default=Path("reports/index.html"))
    parser.add_argument("--png", type=Path, help="screenshot path (default: beside the page)")
    parser.add_argument("--window-size", default="1280,2000")
    args = parser.parse_args()
    if not args.page.is_file():
        print(f"{args.page}: not found; write it with `mer report ... --out {args.page}`")
        return 2
    chromium = find_chromium()
    if chromium is None:
        print("Chromium is not installed. On Debian/Ubuntu (as root):\n"
              "  apt-get update && apt-get install -y chromium\n"
              "then run this again.")
        return 2
    png = args.png or args.page.with_suffix(".png")
    seconds = render(chromium, args.page, png, args.window_size)
    with Image.open(png) as image:
        width, height = image.size
    print(f"{args.page} ({args.page.stat().st_size} bytes) rendered by {chromium} in "
          f"{seconds:.1f} s -> {png}: {width}x{height} px, {png.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
