"""The worker template, rendered with python-liquid the way Ground Truth renders it.

The rendered HTML is parsed (html.parser), not grepped: attribute values are compared after the
parser decodes them, so a label that is double-escaped fails as surely as one left raw.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import boto3
import pytest

from bulkqa.preview_command import (
    STAND_IN_URL,
    PreviewBatch,
    PreviewError,
    answer_summary,
    build_page,
    consolidation_request,
    demo_image,
    load_preview_batch,
    preview_document,
    write_demo_batch,
)
from bulkqa.rendering import (
    CROWD_ELEMENTS_URL,
    UrlResolutionError,
    make_environment,
    render_task,
    render_task_input,
    url_resolver,
)
from handlers.answers import parse_worker_answer
from handlers.batching import QueueItem
from handlers.gt_events import parse_consolidation_event, parse_dataset_object
from handlers.settings import CHECKBOX_VALUE, MAX_BATCH_SIZE
from worker_template import TEMPLATE_PATH, read_template

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
HOSTILE_LABELS = [
    "Sea lion",
    "Pájaro carpintero čáp Ünïcode 鳥",
    "The \"quoted\" 'label' & co",
    "<script>alert('label')</script>",
    '"><img src=x onerror=alert(1)>',
    "</crowd-checkbox><crowd-checkbox name=evil-0 value=Confirmed checked>",
    "{{ task.input }} {% raw %}",
]


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    text: str = ""
    children: list[Element] = field(default_factory=list)


class Page(HTMLParser):
    """A small DOM: every element with its attributes and its whole text content."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        if self._open:
            self._open[-1].children.append(element)
        self.elements.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self._open.pop()

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self._open) - 1, -1, -1):
            if self._open[depth].tag == tag:
                del self._open[depth:]
                return

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data

    def all(self, tag: str) -> list[Element]:
        return [e for e in self.elements if e.tag == tag]

    def one(self, tag: str) -> Element:
        found = self.all(tag)
        assert len(found) == 1, f"expected one <{tag}>, found {len(found)}"
        return found[0]


def descendants(element: Element) -> list[Element]:
    out = []
    for child in element.children:
        out += [child, *descendants(child)]
    return out


def items_for(label: str, count: int) -> list[dict[str, object]]:
    return [
        {"s3_image_url": f"s3://qa-bucket/images/img-{i:03d}.jpg", "label": label, "confidence": 80.0 + i * 0.37}
        for i in range(count)
    ]


def fake_resolver(value: str) -> str:
    return "https://images.example/get?u=" + value.replace("s3://", "") + "&sig=a&b=1"


def render(items: list[dict[str, object]], *, autoescape: bool = True) -> Page:
    return Page(render_task(read_template(), items, fake_resolver, autoescape=autoescape))


def crowd_answer(page: Page) -> dict[str, dict[str, bool]]:
    """What crowd-form submits for the boxes as rendered (all in their initial state)."""
    answer: dict[str, dict[str, bool]] = {}
    for box in page.all("crowd-checkbox"):
        answer.setdefault(str(box.attrs["name"]), {})[str(box.attrs.get("value") or "on")] = "checked" in box.attrs
    return answer


# --- The template's structure -------------------------------------------------------------------


def test_template_is_package_data_with_one_crowd_elements_script() -> None:
    assert TEMPLATE_PATH.name == "bulkqa.liquid.html" and TEMPLATE_PATH.is_file()
    page = render(items_for("Sea lion", 2))
    scripts = [s.attrs.get("src") for s in page.all("script")]
    assert scripts.count(CROWD_ELEMENTS_URL) == 1
    # No other dependency: nothing else is loaded from anywhere.
    other = [e for e in page.elements for a in ("src", "href") if e.attrs.get(a) and e.tag != "img"]
    assert [e.attrs.get("src") for e in other] == [CROWD_ELEMENTS_URL]
    assert not page.all("link")


def test_batch_of_25_renders_25_cards_each_with_a_checked_confirmed_box() -> None:
    items = items_for("Sea lion", 25)
    page = render(items)

    form = page.one("crowd-form")
    cards = page.all("crowd-card")
    assert len(cards) == 25
    assert all(card in descendants(form) for card in cards)
    assert page.one("h1").text.strip() == 'Confirm that each image is correctly labelled as "Sea lion"'

    boxes = page.all("crowd-checkbox")
    assert [b.attrs["name"] for b in boxes] == [f"Sea lion-{i}" for i in range(25)]
    assert all(b.attrs["value"] == CHECKBOX_VALUE == "Confirmed" for b in boxes)
    assert all("checked" in b.attrs for b in boxes)

    for i, card in enumerate(cards):
        inside = descendants(card)
        card_boxes = [e for e in inside if e.tag == "crowd-checkbox"]
        images = [e for e in inside if e.tag == "img"]
        assert [b.attrs["name"] for b in card_boxes] == [f"Sea lion-{i}"]
        # grant_read_access's URL, its & escaped in the source and decoded by the parser.
        assert [img.attrs["src"] for img in images] == [fake_resolver(str(items[i]["s3_image_url"]))]
        assert f"{float(items[i]['confidence']):.1f}%" in card.text  # type: ignore[arg-type]
    # A short instruction line.
    assert "untick" in page.one("header").text


def test_answer_from_the_rendered_boxes_is_what_the_post_labeling_parser_reads() -> None:
    items = items_for("Sea lion", 25)
    answer = crowd_answer(render(items))
    queue = [QueueItem(str(i["s3_image_url"]), str(i["label"]), float(i["confidence"])) for i in items]  # type: ignore[arg-type]
    votes = parse_worker_answer("w1", json.dumps(answer), queue)
    assert votes.notes == []
    assert [(v.index, v.item, v.confirmed) for v in votes.votes] == [(i, queue[i], True) for i in range(25)]


def test_batch_of_one() -> None:
    page = render(items_for("Otter", 1))
    assert len(page.all("crowd-card")) == 1
    assert [b.attrs["name"] for b in page.all("crowd-checkbox")] == ["Otter-0"]
    assert len([img for img in page.all("img")]) == 1


def test_any_batch_size_is_looped() -> None:
    page = render(items_for("Seal", MAX_BATCH_SIZE))
    assert [b.attrs["name"] for b in page.all("crowd-checkbox")] == [f"Seal-{i}" for i in range(MAX_BATCH_SIZE)]


@pytest.mark.parametrize("autoescape", [True, False], ids=["ground-truth-autoescape", "template-alone"])
@pytest.mark.parametrize("label", HOSTILE_LABELS)
def test_labels_render_escaped(label: str, autoescape: bool) -> None:
    """Spaces, non-ASCII, quotes and markup come out as the same text, never as markup.

    With Ground Truth's autoescape on, and with it off (the template's own ``| escape`` must be
    enough), and never escaped twice.
    """
    items = items_for(label, 3)
    html = render_task(read_template(), items, fake_resolver, autoescape=autoescape)
    page = Page(html)

    assert page.one("h1").text.strip() == f'Confirm that each image is correctly labelled as "{label}"'
    assert [b.attrs["name"] for b in page.all("crowd-checkbox")] == [f"{label}-{i}" for i in range(3)]
    # Nothing the label contains became an element or an attribute.
    assert len(page.all("img")) == 3
    assert len(page.all("crowd-card")) == 3
    assert len(page.all("crowd-checkbox")) == 3
    assert [s.attrs.get("src") for s in page.all("script")] == [CROWD_ELEMENTS_URL, None]
    assert not [(e.tag, a) for e in page.elements for a in e.attrs if a.lower().startswith("on")]
    if any(c in label for c in "<>\"'&"):
        assert label not in html


def test_confidence_is_shown_rounded() -> None:
    items = [{"s3_image_url": "s3://b/a.jpg", "label": "Seal", "confidence": 93.456}]
    page = render(items)
    assert "93.5%" in page.one("crowd-card").text


# --- Rendering API ------------------------------------------------------------------------------


def test_render_task_input_matches_render_task() -> None:
    items = items_for("Seal", 2)
    assert render_task_input(read_template(), {"sourceRef": items}, fake_resolver) == render_task(
        read_template(), items, fake_resolver
    )


def test_ground_truth_filters() -> None:
    template = "{{ v | to_json }}|{{ h | skip_autoescape }}|{{ h }}|{{ h | escape }}|{{ u | grant_read_access }}"
    env = make_environment(lambda u: "R:" + u)
    out = env.from_string(template).render(v=["a", "é"], h="<b>", u="s3://b/k")
    assert out == "[&#34;a&#34;, &#34;é&#34;]|<b>|&lt;b&gt;|&lt;b&gt;|R:s3://b/k"


def test_url_resolver_presigns_s3_uris() -> None:
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    url = url_resolver(s3_client=s3)("s3://qa-bucket/images/a b.jpg")
    assert url.startswith("https://qa-bucket.s3.amazonaws.com/images/a%20b.jpg?")
    assert "Signature=" in url or "X-Amz-Signature=" in url
    emulator = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:5999",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    )
    assert url_resolver(s3_client=emulator)("s3://qa-bucket/k.png").startswith("http://127.0.0.1:5999/")


def test_url_resolver_local_paths_and_pass_through(tmp_path: Path) -> None:
    resolve = url_resolver(base_dir=tmp_path)
    assert resolve("img/a.png") == (tmp_path / "img" / "a.png").resolve().as_uri()
    assert resolve(str(tmp_path / "b.png")) == (tmp_path / "b.png").as_uri()
    assert resolve((tmp_path / "c d.png").as_uri()) == (tmp_path / "c d.png").as_uri()
    assert resolve("https://example.org/x.png?a=1&b=2") == "https://example.org/x.png?a=1&b=2"
    mapped = url_resolver(base_dir=tmp_path, local_url=lambda p: f"/images/{p.name}")
    assert mapped("img/a.png") == "/images/a.png"
    with pytest.raises(UrlResolutionError, match="no S3 client"):
        resolve("s3://bucket/key.png")
    with pytest.raises(UrlResolutionError):
        resolve("")


# --- The preview page ---------------------------------------------------------------------------


def test_preview_document_swaps_in_the_stand_in(tmp_path: Path) -> None:
    batch = load_preview_batch(str(write_demo_batch(tmp_path, label="Seal", count=4)))
    page = build_page(batch, read_template())
    parsed = Page(page.html)
    assert [s.attrs.get("src") for s in parsed.all("script")] == [STAND_IN_URL, None]
    assert CROWD_ELEMENTS_URL not in page.html
    srcs = [img.attrs["src"] for img in parsed.all("img")]
    assert srcs == [f"/images/{i}.png" for i in range(4)]
    assert [page.files[s].name for s in srcs] == [f"demo-{i:03d}.png" for i in range(4)]  # type: ignore[index]
    with pytest.raises(PreviewError, match="does not load"):
        preview_document("<crowd-form></crowd-form>")


def test_preview_reports_missing_images_and_bad_batches(tmp_path: Path) -> None:
    batch_file = tmp_path / "batch.json"
    batch_file.write_text(json.dumps([{"s3_image_url": "nope.png", "label": "Seal", "confidence": 90}]))
    with pytest.raises(PreviewError, match="does not exist"):
        build_page(load_preview_batch(str(batch_file)), read_template())
    batch_file.write_text("[]")
    with pytest.raises(PreviewError, match="non-empty"):
        load_preview_batch(str(batch_file))
    with pytest.raises(PreviewError, match="does not exist"):
        load_preview_batch(str(tmp_path / "missing.json"))


def test_demo_image_is_a_png() -> None:
    data = demo_image(0, size=8)
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")


def test_consolidation_request_has_ground_truths_shape() -> None:
    items = [QueueItem("s3://b/i.png", "Seal", 90.0)]
    answer = {"Seal-0": {"Confirmed": False}}
    for batch, data_object in [
        (
            PreviewBatch(items, "s3://b/batches/x.json", "s3://b/batches/x.json", None),
            {"s3Uri": "s3://b/batches/x.json"},
        ),
        (PreviewBatch(items, "local.json", None, Path(".")), {"content": json.dumps([items[0].to_json()])}),
    ]:
        event, payload = consolidation_request(answer, batch, worker_id="w1", payload_uri="s3://b/output/p.json")
        assert set(event) == {
            "version",
            "labelingJobArn",
            "labelCategories",
            "labelAttributeName",
            "roleArn",
            "payload",
            "outputConfig",
        }
        parsed = parse_consolidation_event(event)
        assert parsed.payload_s3_uri == "s3://b/output/p.json"
        assert payload[0]["dataObject"] == data_object
        obj = parse_dataset_object(json.loads(json.dumps(payload))[0], 0)
        assert [(a.worker_id, json.loads(a.content)) for a in obj.annotations] == [("w1", answer)]
    assert answer_summary({"a-0": {"Confirmed": True}, "a-1": {"Confirmed": False}, "a-2": {"on": True}}) == (2, 1)


# --- crowd-html-elements hierarchy rules we can check offline ------------------------------------
# crowd-form submits the values of the crowd elements *inside* it, as {name: {value: checked}};
# a crowd-checkbox outside it, a second or nested form, a native submit button (submits the page
# without crowd-form's output) or an unnamed box would each lose answers. Only Ground Truth's
# console preview shows the real elements' rendering (docs/worker-ui.md says what that leaves).


def ancestors_of(page: Page, target: Element) -> list[str]:
    """Tags from the root down to ``target``'s parent."""

    def walk(element: Element, path: list[str]) -> list[str] | None:
        for child in element.children:
            if child is target:
                return [*path, element.tag]
            found = walk(child, [*path, element.tag])
            if found is not None:
                return found
        return None

    for root in [e for e in page.elements if not any(e in p.children for p in page.elements)]:
        if root is target:
            return []
        found = walk(root, [])
        if found is not None:
            return found
    raise AssertionError("element not in the page")


@pytest.mark.parametrize("count", [1, 25, MAX_BATCH_SIZE])
def test_every_checkbox_is_inside_the_one_crowd_form(count: int) -> None:
    page = render(items_for("Cat", count))
    form = page.one("crowd-form")
    inside = descendants(form)
    boxes = page.all("crowd-checkbox")
    assert len(boxes) == count and all(box in inside for box in boxes)
    assert all(card in inside for card in page.all("crowd-card"))
    for box in boxes:
        path = ancestors_of(page, box)
        assert "crowd-form" in path and "form" not in path, path
        assert "crowd-checkbox" not in path  # not nested in another box
        assert "crowd-card" in path


def test_no_native_form_or_submit_button_competes_with_crowd_form() -> None:
    page = render(items_for("Cat", 3))
    assert page.all("form") == []
    assert "crowd-form" not in ancestors_of(page, page.one("crowd-form"))  # not nested
    for button in page.all("button"):
        assert button.attrs.get("type") == "button", button.attrs  # default type=submit would submit the page
    for field_ in page.all("input"):
        assert field_.attrs.get("type") not in (None, "submit", "image"), field_.attrs


def test_each_box_submits_a_distinct_name_value_pair() -> None:
    page = render(items_for("Cat", 25))
    pairs = [(box.attrs.get("name"), box.attrs.get("value")) for box in page.all("crowd-checkbox")]
    assert all(name and value == CHECKBOX_VALUE for name, value in pairs)
    assert len(set(pairs)) == len(pairs)  # boxes sharing a name and value would share one answer
    answer = crowd_answer(page)
    assert len(answer) == 25 and all(list(v) == [CHECKBOX_VALUE] for v in answer.values())


def test_crowd_elements_script_is_outside_the_form_and_loaded_once() -> None:
    page = render(items_for("Cat", 2))
    scripts = [s for s in page.all("script") if s.attrs.get("src") == CROWD_ELEMENTS_URL]
    assert len(scripts) == 1
    assert "crowd-form" not in ancestors_of(page, scripts[0])
