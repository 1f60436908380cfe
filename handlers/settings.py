"""Names shared by the handlers, the Pulumi component and the command line.

Why one module: the component sets environment variables that the handlers read, and the
handlers write attributes that the report reads. If each side spelled the names itself, a rename
on one side would silently break the wiring; importing them from here makes it a NameError.
"""

from __future__ import annotations

# --- Environment variables the functions read (set by components/ on each function). ---
ENV_TABLE_NAME = "BULKQA_TABLE_NAME"
ENV_BUCKET_NAME = "BULKQA_BUCKET_NAME"
ENV_BATCH_SIZE = "BULKQA_BATCH_SIZE"
ENV_CONFIDENCE_THRESHOLD = "BULKQA_CONFIDENCE_THRESHOLD"
ENV_LOG_LEVEL = "BULKQA_LOG_LEVEL"

# Which variables each function needs; the component's wiring test checks it against this map.
HANDLER_ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "launch": (ENV_TABLE_NAME, ENV_BUCKET_NAME, ENV_BATCH_SIZE, ENV_CONFIDENCE_THRESHOLD, ENV_LOG_LEVEL),
    "pre_labeling": (ENV_LOG_LEVEL,),
    "post_labeling": (ENV_TABLE_NAME, ENV_LOG_LEVEL),
}

# Handler entry points, as "module.function" inside the deployment package.
HANDLER_ENTRY_POINTS: dict[str, str] = {
    "launch": "handlers.launch.handler",
    "pre_labeling": "handlers.pre_labeling.handler",
    "post_labeling": "handlers.post_labeling.handler",
}

# --- Defaults of the QA method. ---
DEFAULT_BATCH_SIZE = 25
DEFAULT_CONFIDENCE_THRESHOLD = 80.0
MAX_BATCH_SIZE = 100

# --- Object layout in the QA bucket. ---
MANIFEST_KEY = "manifest.json"
BATCH_PREFIX = "batches/"
TEMPLATE_KEY = "templates/bulkqa.liquid.html"
OUTPUT_PREFIX = "output/"

# --- DynamoDB item attributes (compatible with the original AWS sample). ---
ATTR_IMAGE_URL = "s3_image_url"  # partition key
ATTR_LABEL = "label"  # sort key
ATTR_CONFIDENCE = "confidence"
ATTR_CONFIRM_COUNT = "WorkerConfirmCount"
ATTR_DISCONFIRM_COUNT = "WorkerDisconfirmCount"
# One entry per worker: {worker_id: "confirm" | "disconfirm"}. The two counts are only ever
# changed in the same conditional update that adds an entry here, so they always equal the
# number of entries of each kind -- that is what makes redelivery harmless.
ATTR_WORKER_VOTES = "WorkerVotes"

VOTE_CONFIRM = "confirm"
VOTE_DISCONFIRM = "disconfirm"

# The crowd-checkbox value the worker template uses; each box submits {"<label>-<i>": {VALUE: bool}}.
CHECKBOX_VALUE = "Confirmed"

# --- QA rounds (see docs/ARCHITECTURE.md, "Rounds"). ---
# A round is one seeding of one model's predictions. Everything it writes is under its own
# prefix and never rewritten; the pair items above stay shared, so a human verdict is given once
# and every round (every model) is evaluated against it.
ENV_ROUND_NAME = "BULKQA_ROUND"  # optional default round name for the launch function
ROUND_PREFIX = "rounds/"  # rounds/<round>/manifest-<part:04d>.jsonl, rounds/<round>/relabel/...
IMAGE_PREFIX = "images/"  # uploaded images live here and nowhere else
ROUND_NAME_PATTERN = r"[A-Za-z0-9_-]{1,64}"
# Ground Truth's documented limit for one input-manifest line (100 KB) and our safety margin.
MANIFEST_LINE_LIMIT_BYTES = 100_000
# Items of other kinds share the table with the (image, label) pair items. Their partition key
# (the ``s3_image_url`` attribute) starts with ``#``, which no pair item's ``s3://`` URL does, and
# they carry ``ATTR_KIND``; whole-table readers skip any item that has it.
ATTR_KIND = "kind"
KIND_ROUND = "round"  # pk "#rounds", sk "<round>": the round's metadata and its parts
KIND_ROUND_PAIR = "round-pair"  # pk "#round#<round>#<shard>", sk sha256(pair): the round's view of a pair
KIND_WORKER_PAGE = "worker-page"  # pk "#round#<round>#workers", sk "<worker>#<part>#<batch>"
ROUNDS_PARTITION = "#rounds"
ROUND_SHARDS = 16  # round-pair items are spread over this many partitions (write heat, parallel reads)
# Attributes of round-pair items.
ATTR_ROUND = "round"
ATTR_PAIR_URL = "pair_url"
ATTR_PAIR_LABEL = "pair_label"
ATTR_STATE = "state"
ATTR_PART = "part"
ATTR_BATCH = "batch"
# States of a pair in a round.
STATE_QUEUED = "queued"  # in a task of this round
STATE_REUSED = "reused"  # already reviewed (enough votes) before this round: verdict reused
STATE_ACCEPTED = "accepted"  # at or above its class's threshold: accepted, not reviewed
STATE_SAMPLED_OUT = "sampled_out"  # not drawn by --sample: stored, not reviewed
ROUND_STATES = (STATE_QUEUED, STATE_REUSED, STATE_ACCEPTED, STATE_SAMPLED_OUT)
# Corrections from a relabel job (issue 15), on the pair item of the rejected (image, label):
# what the image really shows, as the built-in image classification job consolidated it.
ATTR_CORRECTED_LABEL = "CorrectedLabel"
ATTR_CORRECTED_CONFIDENCE = "CorrectedConfidence"
ATTR_CORRECTED_BY_JOB = "CorrectedByJob"
