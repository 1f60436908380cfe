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
