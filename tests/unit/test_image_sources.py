"""Image sources: uploads land under images/, only regular files inside the folder are read, and the
checks that refuse a wrong --images before anything is written (local part; S3 part in integration)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from handlers.image_sources import (
    MAX_LISTED,
    ImageMissingError,
    ImageRefusedError,
    LocalImages,
    LocalImageTally,
    PathSample,
    S3Images,
    check_local_images,
    image_source,
    reserved_key_reason,
)
from handlers.s3_uri import S3Uri
from handlers.settings import IMAGE_PREFIX, MANIFEST_KEY, OUTPUT_PREFIX, ROUND_PREFIX, TEMPLATE_KEY


class _RecordingS3:
    def __init__(self) -> None:
        self.puts: list[dict] = []
        self.copies: list[dict] = []

    def put_object(self, **kwargs) -> None:
        self.puts.append({**kwargs, "Body": kwargs["Body"].read()})

    def copy_object(self, **kwargs) -> None:
        self.copies.append(kwargs)


@pytest.fixture
def folder(tmp_path: Path) -> LocalImages:
    root = tmp_path / "images"
    (root / "sub").mkdir(parents=True)
    (root / "a.jpg").write_bytes(b"A")
    (root / "sub" / "b.jpg").write_bytes(b"B")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "passwd").write_bytes(b"secret")
    return image_source(str(root))  # type: ignore[return-value]


@pytest.mark.parametrize(
    "path",
    [
        "templates/bulkqa.liquid.html",
        "output/job/annotations/x.json",
        "rounds/r1/manifest-0001.jsonl",
        "batches/Dog/00001.json",
        "manifest.json",
        "a.jpg",
    ],
)
def test_uploads_go_under_the_image_prefix_whatever_the_csv_path(tmp_path: Path, path: str) -> None:
    root = tmp_path / "imgs"
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_bytes(b"payload")
    source = LocalImages(root)
    s3 = _RecordingS3()
    source.transfer(s3, path, "qa")
    assert [put["Key"] for put in s3.puts] == [f"{IMAGE_PREFIX}{path}"]
    assert source.url(path, "qa") == f"s3://qa/{IMAGE_PREFIX}{path}"
    copy = S3Images(S3Uri("vendor", "in"), copy=True)
    copy.transfer(s3, path, "qa")
    assert s3.copies[-1]["Key"] == f"{IMAGE_PREFIX}{path}"
    assert copy.url(path, "qa") == f"s3://qa/{IMAGE_PREFIX}{path}"


def test_references_into_the_qa_bucket_may_not_name_its_own_objects() -> None:
    in_place = S3Images(S3Uri("qa", ""))
    for key in (
        TEMPLATE_KEY,
        f"{OUTPUT_PREFIX}x",
        f"{ROUND_PREFIX}r/manifest-0001.jsonl",
        "batches/x.json",
        MANIFEST_KEY,
    ):
        assert in_place.check(key, "qa") is not None
        assert "one of the QA bucket's own objects" in (reserved_key_reason(S3Uri("qa", key), "qa") or "")
        with pytest.raises(ImageRefusedError):
            S3Images(S3Uri("qa", ""), copy=True).transfer(_RecordingS3(), key, "qa")
    assert in_place.check("dogs/a.jpg", "qa") is None
    assert in_place.check("images/templates/bulkqa.liquid.html", "qa") is None
    assert S3Images(S3Uri("other", "")).check(TEMPLATE_KEY, "qa") is None  # another bucket is not ours


def test_regular_files_inside_the_folder_are_read(folder: LocalImages) -> None:
    with folder.open("sub/b.jpg") as handle:
        assert handle.read() == b"B"
    assert folder.problem("a.jpg") is None


def test_symlinks_are_refused_even_when_they_point_inside(folder: LocalImages, tmp_path: Path) -> None:
    root = folder.root
    os.symlink(tmp_path / "outside" / "passwd", root / "passwd")
    os.symlink("a.jpg", root / "inside.jpg")
    os.symlink(tmp_path / "outside", root / "linked")
    for path in ("passwd", "inside.jpg", "linked/passwd"):
        reason = folder.problem(path)
        assert reason is not None and "symbolic link" in reason, (path, reason)
        with pytest.raises(ImageRefusedError, match="symbolic link"):
            folder.open(path)
    s3 = _RecordingS3()
    with pytest.raises(ImageMissingError):
        folder.transfer(s3, "passwd", "qa")
    assert s3.puts == []


def test_the_folder_itself_may_be_a_link(folder: LocalImages, tmp_path: Path) -> None:
    os.symlink(folder.root, tmp_path / "alias")
    assert image_source(str(tmp_path / "alias")).problem("a.jpg") is None  # type: ignore[union-attr]


def test_fifo_is_refused_without_blocking(folder: LocalImages) -> None:
    os.mkfifo(folder.root / "pipe.jpg")
    outcome: list = []

    def attempt() -> None:
        try:
            folder.open("pipe.jpg")
        except ImageRefusedError as err:
            outcome.append(str(err))

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout=5)
    assert not worker.is_alive(), "opening a FIFO blocked"
    assert outcome and "is a FIFO, not a regular file" in outcome[0]
    assert "FIFO" in (folder.problem("pipe.jpg") or "")


def test_devices_folders_and_missing_files_are_refused(folder: LocalImages) -> None:
    os.symlink("/dev/zero", folder.root / "zero.jpg")
    assert "symbolic link" in (folder.problem("zero.jpg") or "")
    assert "is a folder" in (folder.problem("sub") or "")
    assert "not found" in (folder.problem("nope.jpg") or "")
    assert "not a folder" in (folder.problem("a.jpg/x.jpg") or "")
    dev = LocalImages(Path("/dev"))
    assert "a device" in (dev.problem("null") or "")


def test_wrong_folder_is_summarised_listing_at_most_twenty(folder: LocalImages) -> None:
    paths = [f"missing/{i:03d}.jpg" for i in range(189)]
    check = check_local_images(folder, paths + paths)  # each image twice (two labels): counted once
    assert check.refused
    lines = check.lines()
    assert lines[0] == f"0 of 189 images found under {folder.root} — check --images"
    assert len(lines) == 1 + MAX_LISTED + 1 and lines[-1] == "  ... and 169 more"
    assert lines[1] == "  missing/000.jpg: not found"


def test_a_few_missing_images_do_not_refuse_the_seed(folder: LocalImages) -> None:
    check = check_local_images(folder, ["a.jpg", "sub/b.jpg", "gone.jpg"])
    assert not check.refused and (check.found, check.total, check.missing_count) == (2, 3, 1)
    tally = LocalImageTally(folder)
    assert [tally.see(p) is None for p in ["a.jpg", "a.jpg", "gone.jpg", "gone.jpg", "gone2.jpg"]] == [
        True,
        True,
        False,
        False,
        False,
    ]
    assert (tally.result.total, tally.result.found, tally.result.refused) == (3, 1, True)


def test_path_sample_is_deterministic_distinct_and_bounded() -> None:
    def sample() -> list[str]:
        chosen = PathSample(size=5, seed=0)
        for i in range(1000):
            chosen.add(f"{i % 300}.jpg")
        return chosen.paths

    assert sample() == sample()
    assert len(sample()) == 5 and len(set(sample())) == 5
    small = PathSample(size=5)
    for path in ["a", "a", "b"]:
        small.add(path)
    assert small.paths == ["a", "b"]
