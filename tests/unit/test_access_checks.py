"""Pure decisions of ``bulkqa doctor``: CORS rule, IAM evaluation, sampling, manifest parts and lines."""

from __future__ import annotations

import json

import pytest

from bulkqa.access_checks import (
    ALLOWED,
    DENIED,
    NOT_ALLOWED,
    UNKNOWN,
    cors_check,
    evaluate_policies,
    images_by_bucket,
    objects_check,
    role_read_check,
    sample,
)
from bulkqa.manifests import ManifestError, choose_parts, parse_manifest, part_numbers
from handlers.rounds import BatchDocument, BatchEntry, manifest_key, manifest_line

GT_RULE = {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "ExposeHeaders": ["Access-Control-Allow-Origin"]}


@pytest.mark.parametrize(
    ("rules", "ok"),
    [
        ([GT_RULE], True),
        ([{"AllowedMethods": ["PUT"], "AllowedOrigins": ["*"]}, {**GT_RULE, "AllowedMethods": ["get", "HEAD"]}], True),
        ([], False),
        ([{**GT_RULE, "AllowedOrigins": ["https://example.com"]}], False),
        ([{**GT_RULE, "ExposeHeaders": []}], False),
        ([{**GT_RULE, "AllowedMethods": ["PUT"]}], False),
        (None, None),
    ],
)
def test_cors_rule(rules: list | None, ok: bool | None) -> None:
    check = cors_check(rules)
    assert check.ok is ok
    if ok is False:
        assert "AllowedOrigins [*]" in check.detail


def _allow(action: object, resource: object, **extra: object) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource, **extra}],
    }


OBJ = "arn:aws:s3:::images-bucket/cats/1.jpg"


@pytest.mark.parametrize(
    ("documents", "decision"),
    [
        ([_allow("s3:GetObject", "arn:aws:s3:::images-bucket/*")], ALLOWED),
        ([_allow(["s3:Get*"], ["arn:aws:s3:::images-bucket/cats/*"])], ALLOWED),
        ([_allow("S3:GETOBJECT", "arn:aws:s3:::images-bucket/*")], ALLOWED),  # actions: any case
        ([_allow("*", "*")], ALLOWED),
        ([_allow("s3:GetObject", "arn:aws:s3:::other-bucket/*")], NOT_ALLOWED),
        ([_allow("s3:GetObject", "arn:aws:s3:::Images-Bucket/*")], NOT_ALLOWED),  # resources: case matters
        ([_allow("s3:PutObject", "*")], NOT_ALLOWED),
        ([_allow("s3:GetObject", "arn:aws:s3:::images-bucket/dogs/*")], NOT_ALLOWED),
        ([], NOT_ALLOWED),
        (
            [
                _allow("s3:*", "*"),
                {
                    "Statement": [
                        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::images-bucket/*"}
                    ]
                },
            ],
            DENIED,
        ),
        ([{"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}], ALLOWED),
        ([{"Statement": {"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}}], NOT_ALLOWED),
        ([{"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "NotResource": OBJ}}], NOT_ALLOWED),
        ([_allow("s3:GetObject", "*", Condition={"StringEquals": {"aws:ResourceAccount": "1"}})], UNKNOWN),
    ],
)
def test_policy_evaluation(documents: list[dict], decision: str) -> None:
    assert evaluate_policies(documents, "s3:GetObject", OBJ) == decision


def test_role_read_check_names_the_refused_image() -> None:
    refused = role_read_check("arn:aws:iam::1:role/path/gt-role", {OBJ: NOT_ALLOWED, OBJ + "x": ALLOWED}, "docs")
    assert refused.ok is False and "gt-role" in refused.detail and OBJ in refused.detail and "1 of 2" in refused.detail
    assert role_read_check("arn:aws:iam::1:role/gt", {OBJ: ALLOWED}, "docs").ok is True
    assert role_read_check("arn:aws:iam::1:role/gt", {OBJ: UNKNOWN}, "docs").ok is None


def test_objects_check() -> None:
    assert objects_check({"a": True, "b": True}, "bk", 10).ok is True
    missing = objects_check({"a": True, "b": False}, "bk", 10)
    assert missing.ok is False and "s3://bk/b" in missing.detail
    assert objects_check({"a": None}, "bk", 1).ok is None


def test_sample_is_spread_and_deterministic() -> None:
    keys = [f"k{i:03d}" for i in range(100)]
    picked = sample(keys, 5)
    assert picked == sample(keys, 5)
    assert picked[0] == "k000" and picked[-1] == "k099" and len(picked) == 5
    assert sample(keys[:3], 5) == keys[:3]
    assert sample([], 5) == [] and sample(keys, 1) == ["k000"]


def test_images_by_bucket() -> None:
    buckets, bad = images_by_bucket(["s3://a/x.jpg", "s3://b/y.jpg", "s3://a/x.jpg", "s3://a/z.jpg", "/etc/passwd"])
    assert buckets == {"a": ["x.jpg", "z.jpg"], "b": ["y.jpg"]}
    assert bad == ["/etc/passwd"]


def test_part_numbers_and_choice() -> None:
    keys = [manifest_key("r1", 2), manifest_key("r1", 1), manifest_key("r10", 7), "rounds/r1/manifest-x.jsonl"]
    assert part_numbers(keys, "r1") == [1, 2]
    assert choose_parts([1, 2], "r1", None) == [2]
    assert choose_parts([1, 2], "r1", None, every=True) == [1, 2]
    assert choose_parts([1, 2], "r1", 1) == [1]
    with pytest.raises(ManifestError, match="no manifest part 3"):
        choose_parts([1, 2], "r1", 3)
    with pytest.raises(ManifestError, match="'r9' has no manifest part"):
        choose_parts([], "r9", None)


def test_parse_manifest_inline_and_legacy_lines() -> None:
    document = BatchDocument("r1", 1, 1, "Cat", (BatchEntry("s3://b/c1.jpg", "Cat", 91.0),))
    text = manifest_line(document) + "\n" + json.dumps({"source-ref": "s3://b/batches/cat/batch-00001.json"}) + "\n"
    tasks = parse_manifest(text, uri="s3://b/m.jsonl")
    assert tasks[0].page is not None and tasks[0].page.entries[0].s3_image_url == "s3://b/c1.jpg"
    assert tasks[1].page is None and tasks[1].source_ref == "s3://b/batches/cat/batch-00001.json"
    assert tasks[1].line == 3
    with pytest.raises(ManifestError, match=r"m\.jsonl line 2"):
        parse_manifest(manifest_line(document) + '{"other": 1}\n', uri="s3://b/m.jsonl")
    with pytest.raises(ManifestError, match="line 1 is not JSON"):
        parse_manifest("{", uri="s3://b/m.jsonl")
    with pytest.raises(ManifestError, match="no task"):
        parse_manifest("\n", uri="s3://b/m.jsonl")
