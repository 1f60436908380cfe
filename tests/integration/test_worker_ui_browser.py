"""The worker page in a real browser: Debian's headless Chromium, driven by Playwright.

The preview server serves the real template (rendered as Ground Truth renders it) with the local
crowd-element stand-in; the worker's answer goes through the real post-labeling code into
DynamoDB (moto in-process, or a moto server on 127.0.0.1 for presigned image URLs).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from bulkqa.preview_command import (
    PreviewServer,
    Submission,
    build_page,
    demo_image,
    load_preview_batch,
    post_answer,
)
from bulkqa.qa_table import create_qa_table
from bulkqa.rendering import CROWD_ELEMENTS_URL
from handlers.answers import parse_worker_answer
from handlers.batching import QueueItem
from handlers.settings import (
    ATTR_CONFIDENCE,
    ATTR_CONFIRM_COUNT,
    ATTR_DISCONFIRM_COUNT,
    ATTR_IMAGE_URL,
    ATTR_LABEL,
    ATTR_WORKER_VOTES,
    OUTPUT_PREFIX,
)
from tests.conftest import REGION, QaStack
from worker_template import read_template

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
UNTICKED = (4, 12, 24)  # beyond index 9 on purpose: "X-12" sorts before "X-4" as text


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (`make browser` installs Debian's package as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture
def page_errors(page: Any) -> list[str]:
    """Uncaught script errors on the page."""
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    return errors


def write_batch(folder: Path, label: str, count: int, *, prefix: str = "") -> tuple[Path, list[dict[str, Any]]]:
    """``count`` tiny PNGs and a local batch file pointing at them (paths relative to the batch)."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    items = []
    for i in range(count):
        name = f"images/{i:02d}.png"
        (folder / name).write_bytes(demo_image(i, size=16))
        items.append({"s3_image_url": prefix + name, "label": label, "confidence": 85.0 + i / 2})
    batch = folder / "batch-00001.json"
    batch.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    return batch, items


def seed_items(ddb: Any, table: str, items: list[dict[str, Any]]) -> None:
    """The items as the seed writes them: no votes yet."""
    for item in items:
        ddb.put_item(
            TableName=table,
            Item={
                ATTR_IMAGE_URL: {"S": item["s3_image_url"]},
                ATTR_LABEL: {"S": item["label"]},
                ATTR_CONFIDENCE: {"N": str(item["confidence"])},
                ATTR_CONFIRM_COUNT: {"N": "0"},
                ATTR_DISCONFIRM_COUNT: {"N": "0"},
                ATTR_WORKER_VOTES: {"M": {}},
            },
        )


def open_preview(tab: Any, url: str, count: int) -> None:
    tab.goto(url)
    tab.wait_for_selector("html[data-crowd-stand-in=ready]")
    tab.wait_for_function(
        "n => [...document.images].length === n && [...document.images].every(i => i.complete && i.naturalWidth > 0)",
        arg=count,
    )


def untick_and_submit(tab: Any, label: str) -> dict[str, Any]:
    """Untick three images three ways (box, image, box label), then submit; return the shown JSON."""
    from playwright.sync_api import expect

    def box(i: int) -> str:
        return f'crowd-checkbox[name="{label}-{i}"]'

    tab.click(box(UNTICKED[0]))  # the checkbox itself
    tab.click(f'crowd-card[data-index="{UNTICKED[1]}"] img')  # anywhere on the card
    tab.click(f"{box(UNTICKED[2])} .crowd-checkbox__text")  # the box's label text
    # The page marks cards in a setTimeout after each click: wait for it rather than race it.
    expect(tab.locator(".bq-card.bq-wrong")).to_have_count(3)
    expect(tab.locator("#bq-summary")).to_have_text("3 of 25 marked wrong")
    tab.evaluate("window.scrollTo(0, 0)")
    submit_with_confirmation(tab, "3 of 25 marked wrong. Press Submit again to send.")
    return json.loads(tab.inner_text("#crowd-preview-answer"))


def submit_with_confirmation(tab: Any, line: str) -> None:
    """The first press shows how many are marked wrong and sends nothing; the second sends."""
    from playwright.sync_api import expect

    tab.click(".crowd-form__submit")
    expect(tab.locator("#bq-confirm")).to_have_text(line)
    assert tab.get_attribute("body", "data-crowd-preview-status") != "done"
    tab.click(".crowd-form__submit")
    tab.wait_for_selector("body[data-crowd-preview-status=done]")


def expected_answer(label: str, count: int) -> dict[str, dict[str, bool]]:
    return {f"{label}-{i}": {"Confirmed": i not in UNTICKED} for i in range(count)}


def assert_counts(ddb: Any, table: str, items: list[dict[str, Any]], worker: str) -> None:
    for i, item in enumerate(items):
        stored = ddb.get_item(
            TableName=table,
            Key={ATTR_IMAGE_URL: {"S": item["s3_image_url"]}, ATTR_LABEL: {"S": item["label"]}},
            ConsistentRead=True,
        )["Item"]
        confirmed = i not in UNTICKED
        assert stored[ATTR_CONFIRM_COUNT] == {"N": "1" if confirmed else "0"}, i
        assert stored[ATTR_DISCONFIRM_COUNT] == {"N": "0" if confirmed else "1"}, i
        assert stored[ATTR_WORKER_VOTES] == {"M": {worker: {"S": "confirm" if confirmed else "disconfirm"}}}, i


def test_worker_unticks_three_and_the_votes_are_counted(
    qa_stack: QaStack, page: Any, page_errors: list[str], tmp_path: Path
) -> None:
    label = "Sea lion"
    batch_file, items = write_batch(tmp_path, label, 25)
    seed_items(qa_stack.ddb, qa_stack.table, items)
    batch = load_preview_batch(str(batch_file))

    def count_votes(answer: dict[str, Any]) -> list[dict[str, Any]]:
        return post_answer(
            answer,
            batch,
            s3=qa_stack.s3,
            ddb=qa_stack.ddb,
            table=qa_stack.table,
            bucket=qa_stack.bucket,
            worker_id="worker-a",
        )

    with PreviewServer(build_page(batch, read_template()), on_answer=count_votes) as server:
        open_preview(page, server.url, 25)
        assert page.locator("crowd-card").count() == 25
        assert page.evaluate("[...document.querySelectorAll('crowd-checkbox')].every(b => b.checked)")
        assert page.inner_text("h1") == f'Confirm that each image is correctly labelled as "{label}"'

        shown = untick_and_submit(page, label)
        screenshot = page.screenshot()
        submissions: list[Submission] = list(server.submissions)

    assert shown == expected_answer(label, 25)
    assert len(submissions) == 1 and submissions[0].answer == shown and submissions[0].error is None
    assert "counted 22 confirm and 3 disconfirm votes" in page.inner_text("#crowd-preview-status")
    assert page_errors == []

    # The consolidation response, per image, and the table.
    (response,) = submissions[0].result  # type: ignore[misc]
    images = response["consolidatedAnnotation"]["content"]["bulkqa-preview"]["images"]
    assert [(img["index"], img["WorkerConfirmCount"], img["WorkerDisconfirmCount"]) for img in images] == [
        (i, int(i not in UNTICKED), int(i in UNTICKED)) for i in range(25)
    ]
    assert_counts(qa_stack.ddb, qa_stack.table, items, "worker-a")
    # The payload file was written where Ground Truth writes it.
    keys = [o["Key"] for o in qa_stack.s3.list_objects_v2(Bucket=qa_stack.bucket)["Contents"]]
    assert len(keys) == 1 and keys[0].startswith(f"{OUTPUT_PREFIX}bulkqa-preview/annotations/consolidated-annotation/")

    assert screenshot.startswith(b"\x89PNG") and len(screenshot) > 10_000


@pytest.mark.parametrize(
    ("label", "autoescape"),
    [
        ('"><img src=x onerror=alert(1)>', True),
        # The template must be safe on its own too, should Ground Truth's autoescape ever be off.
        ('"><img src=x onerror=alert(1)>', False),
        ("</script><script>alert(2)</script>", False),
        ('Säule "Ω" & <b onclick=alert(3)>', False),
    ],
    ids=["ground-truth", "template-alone", "script-tag", "attribute"],
)
def test_hostile_labels_stay_text(
    page: Any, page_errors: list[str], tmp_path: Path, label: str, autoescape: bool
) -> None:
    """A label is data: it shows as text, names the boxes verbatim, and runs nothing."""
    batch_file, items = write_batch(tmp_path, label, 3)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    preview = build_page(load_preview_batch(str(batch_file)), read_template(), autoescape=autoescape)
    with PreviewServer(preview) as server:
        open_preview(page, server.url, 3)
        page.wait_for_timeout(300)  # give any injected onerror a chance to fire
        assert page.inner_text("h1") == f'Confirm that each image is correctly labelled as "{label}"'
        assert page.evaluate("[...document.querySelectorAll('crowd-checkbox')].map(b => b.getAttribute('name'))") == [
            f"{label}-{i}" for i in range(3)
        ]
        assert page.locator("img").count() == 3
        assert (
            page.evaluate(
                "[...document.querySelectorAll('*')].some(e => e.getAttributeNames().some(a => /^on/i.test(a)))"
            )
            is False
        )
        submit_with_confirmation(page, "0 of 3 marked wrong. Press Submit again to send.")
        answer = json.loads(page.inner_text("#crowd-preview-answer"))
    assert dialogs == []
    assert page_errors == []
    queue = [QueueItem(i["s3_image_url"], i["label"], i["confidence"]) for i in items]
    votes = parse_worker_answer("w", answer, queue)
    assert votes.notes == [] and [v.confirmed for v in votes.votes] == [True, True, True]


@pytest.fixture
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_bulkqa_preview_command_with_an_s3_batch_and_post(page: Any, tmp_path: Path, moto_server: str) -> None:
    """The command itself: an s3:// batch, images through presigned emulator URLs, --post counts the votes."""
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_server)
    ddb = boto3.client("dynamodb", region_name=REGION, endpoint_url=moto_server)
    bucket, table, label = "qa-bucket", "qa-table", "Heron"
    s3.create_bucket(Bucket=bucket)
    create_qa_table(ddb, table)
    _, local_items = write_batch(tmp_path, label, 25)
    items = [{**item, "s3_image_url": f"s3://{bucket}/{item['s3_image_url']}"} for item in local_items]
    for local, item in zip(local_items, items, strict=True):
        s3.put_object(
            Bucket=bucket,
            Key=item["s3_image_url"].split("/", 3)[3],
            Body=(tmp_path / local["s3_image_url"]).read_bytes(),
        )
    s3.put_object(Bucket=bucket, Key="batches/heron/batch-00001.json", Body=json.dumps(items).encode())
    seed_items(ddb, table, items)

    command = [
        sys.executable, "-c", "from bulkqa.cli import main; main()", "preview",
        "--batch", f"s3://{bucket}/batches/heron/batch-00001.json",
        "--endpoint-url", moto_server, "--region", REGION,
        "--post", "--table", table, "--worker-id", "worker-b", "--no-open",
    ]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines = []
        for line in process.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if "Ctrl-C" in line or process.poll() is not None:
                break
        match = re.search(r"http://127\.0\.0\.1:\d+/", "".join(lines))
        assert match, "".join(lines)
        open_preview(page, match.group(0), 25)
        srcs = page.evaluate("[...document.images].map(i => i.src)")
        assert all(src.startswith(f"{moto_server}/{bucket}/images/") for src in srcs), srcs[:2]
        shown = untick_and_submit(page, label)
        assert shown == expected_answer(label, 25)
        assert "counted 22 confirm and 3 disconfirm votes" in page.inner_text("#crowd-preview-status")
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert "Answer received: 22 confirmed, 3 not confirmed." in output
    assert "Stopped." in output
    assert_counts(ddb, table, items, "worker-b")


def test_stand_in_submits_what_ground_truths_crowd_form_does(page: Any, tmp_path: Path) -> None:
    """crowd-checkbox output is {name: {value: checked}}; a shared name shares one object; value defaults to "on"."""
    template = (
        f'<script src="{CROWD_ELEMENTS_URL}"></script><crowd-form><crowd-card heading="H">'
        '<crowd-checkbox name="colour" value="Red" checked>Red</crowd-checkbox>'
        '<crowd-checkbox name="colour" value="Green">Green</crowd-checkbox>'
        '<crowd-checkbox name="stop">Stop</crowd-checkbox>'
        '<crowd-checkbox name="go" value="Yes" checked>Go</crowd-checkbox>'
        "</crowd-card></crowd-form>"
    )
    batch_file, _ = write_batch(tmp_path, "Seal", 1)
    with PreviewServer(build_page(load_preview_batch(str(batch_file)), template)) as server:
        page.goto(server.url)
        page.wait_for_selector("html[data-crowd-stand-in=ready]")
        assert page.inner_text(".crowd-card__heading") == "H"
        page.click('crowd-checkbox[name="stop"]')
        page.click('crowd-checkbox[name="go"]')
        page.click(".crowd-form__submit")
        page.wait_for_selector("body[data-crowd-preview-status=done]")
        shown = json.loads(page.inner_text("#crowd-preview-answer"))
        posted = server.submissions[0].answer
    expected = {"colour": {"Red": True, "Green": False}, "stop": {"on": True}, "go": {"Yes": False}}
    assert shown == posted == expected


def test_keyboard_and_full_size_view(page: Any, page_errors: list[str], tmp_path: Path) -> None:
    """Arrows move the visible focus, Space toggles, Z and the magnifier open the full-size view
    without toggling anything, Esc closes it; the confirmation counts what the keyboard marked."""
    from playwright.sync_api import expect

    label = "Crab"
    batch_file, _ = write_batch(tmp_path, label, 12)
    preview = build_page(load_preview_batch(str(batch_file)), read_template())
    with PreviewServer(preview) as server:
        open_preview(page, server.url, 12)
        page.focus('crowd-card[data-index="0"]')
        focused = "() => document.activeElement.getAttribute('data-index')"
        page.keyboard.press("ArrowRight")
        assert page.evaluate(focused) == "1"
        ring = page.evaluate("getComputedStyle(document.activeElement).boxShadow")
        assert ring not in ("", "none"), ring  # a visible focus ring
        page.keyboard.press("ArrowDown")  # five columns at 1280 px
        assert page.evaluate(focused) == "6"
        page.keyboard.press("Space")
        expect(page.locator(".bq-card.bq-wrong")).to_have_count(1)
        assert page.get_attribute('crowd-card[data-index="6"]', "class").count("bq-wrong") == 1
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("ArrowUp")
        assert page.evaluate(focused) == "0"
        page.keyboard.press("Space")
        page.keyboard.press("Space")  # toggled back
        expect(page.locator(".bq-card.bq-wrong")).to_have_count(1)

        page.keyboard.press("z")  # full size of the focused card
        viewer = page.locator("#bq-viewer")
        expect(viewer).to_be_visible()
        card_src = page.evaluate("document.querySelector('crowd-card[data-index=\"0\"] .bq-frame img').src")
        assert page.evaluate("document.getElementById('bq-viewer-img').src") == card_src
        size = page.evaluate(
            "(() => { const r = document.getElementById('bq-viewer-img').getBoundingClientRect();"
            " return [r.width, r.height]; })()"
        )
        thumb = page.evaluate(
            "(() => { const r = document.querySelector('crowd-card img').getBoundingClientRect();"
            " return [r.width, r.height]; })()"
        )
        assert size[0] > 2 * thumb[0], (size, thumb)
        page.keyboard.press("Space")  # nothing toggles behind the viewer
        page.keyboard.press("Escape")
        expect(viewer).to_be_hidden()
        assert page.evaluate(focused) == "0"

        page.click('crowd-card[data-index="3"] .bq-zoom')  # the magnifier: opens, never toggles
        expect(viewer).to_be_visible()
        page.click("#bq-viewer-close")
        expect(viewer).to_be_hidden()
        expect(page.locator(".bq-card.bq-wrong")).to_have_count(1)

        submit_with_confirmation(page, "1 of 12 marked wrong. Press Submit again to send.")
        answer = json.loads(page.inner_text("#crowd-preview-answer"))
    assert answer == {f"{label}-{i}": {"Confirmed": i != 6} for i in range(12)}
    assert page_errors == []


def test_confirmation_resets_when_an_answer_changes(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    batch_file, _ = write_batch(tmp_path, "Gull", 4)
    with PreviewServer(build_page(load_preview_batch(str(batch_file)), read_template())) as server:
        open_preview(page, server.url, 4)
        page.click(".crowd-form__submit")
        expect(page.locator("#bq-confirm")).to_have_text("0 of 4 marked wrong. Press Submit again to send.")
        page.click('crowd-card[data-index="2"] img')
        expect(page.locator("#bq-confirm")).to_be_hidden()
        page.click(".crowd-form__submit")  # asks again, with the new count, and sends nothing yet
        expect(page.locator("#bq-confirm")).to_have_text("1 of 4 marked wrong. Press Submit again to send.")
        assert page.get_attribute("body", "data-crowd-preview-status") != "done"
        page.click(".crowd-form__submit")
        page.wait_for_selector("body[data-crowd-preview-status=done]")
        answer = json.loads(page.inner_text("#crowd-preview-answer"))
    assert answer == {f"Gull-{i}": {"Confirmed": i != 2} for i in range(4)}
