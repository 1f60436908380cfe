"""Regenerate docs/worker-ui.png: the worker page of the demo batch with three images marked wrong.

    .venv/bin/python docs/worker-ui.py

Uses the same pieces as ``bulkqa preview --demo`` and Debian's Chromium (/usr/bin/chromium).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from bulkqa.preview_command import PreviewServer, build_page, load_preview_batch, write_demo_batch
from worker_template import read_template

OUT = Path(__file__).with_name("worker-ui.png")
WRONG = (2, 8, 13)  # the demo batch's boxes, which the worker unticks
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync", "--hide-scrollbars"]  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        batch = load_preview_batch(str(write_demo_batch(Path(folder), odd=WRONG)))
        with PreviewServer(build_page(batch, read_template())) as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 820})
            page.goto(server.url)
            page.wait_for_selector("html[data-crowd-stand-in=ready]")
            page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
            for index in WRONG:
                page.click(f'crowd-card[data-index="{index}"] img')
            page.evaluate("window.scrollTo(0, 0)")
            page.mouse.move(1, 1)
            page.screenshot(path=str(OUT))
            browser.close()
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KB)", file=sys.stderr)


if __name__ == "__main__":
    main()
