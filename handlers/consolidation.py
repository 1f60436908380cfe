"""Annotation consolidation: read Ground Truth's payload, count votes, build the response.

Requests per consolidation: the payload (one GetObject), the distinct batch files of release 0.1
jobs and the answers stored in S3 (concurrent GetObjects; none for a round's inline batches with
inline answers), one conditional UpdateItem per distinct image (every worker's vote in it, see
``handlers.vote_store``) and one conditional PutItem per worker and round page (gold scoring,
``handlers.worker_pages``), all concurrent. 25 images x 3 workers: 1 + 25 + 3 = 29 requests.

Failure policy (Ground Truth delivers at least once and retries a failed invocation):
- one worker's unreadable answer (bad JSON, its ``s3Uri`` object missing or refused) is logged
  with the object and worker id and skipped;
- one dataset object that cannot be resolved (batch file missing or refused, bad JSON) is logged
  with its id and left out of the response, so Ground Truth reports that object as failed -- the
  others still count;
- a repeated ``datasetObjectId`` is one object: its annotations are merged, its votes counted once,
  and it gets one response entry;
- a failure talking to DynamoDB raises, so the whole request is retried; the conditional writes
  make that retry harmless.

Gold items (``gold`` in a round's batch document) are never votes on data: they are scored in the
worker's page record instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from handlers import safe_json
from handlers.answers import CHAR_NONE, VERDICT_CHARS, AnnotationError, Vote, parse_worker_answer
from handlers.batch_store import ObjectUnreadableError, read_many, read_s3_text
from handlers.gt_events import (
    Annotation,
    ConsolidationEvent,
    DatasetObject,
    EventError,
    parse_dataset_object,
)
from handlers.logs import get_logger, log
from handlers.task_pages import INLINE_NAME, Page, parse_page
from handlers.vote_store import (
    PairResult,
    PairVotes,
    StoredPair,
    VoteOutcome,
    read_pairs,
    record_pair_votes,
    record_worker_page,
)
from handlers.worker_pages import WorkerPage, score_page

LOGGER = get_logger("bulkqa.post_labeling")
VOTE_WRITERS = 32  # concurrent DynamoDB writes: as many as the client keeps connections (aws_clients)


@dataclass
class ObjectVotes:
    """One dataset object resolved: its page, the workers whose answers were read, their votes."""

    dataset_object_id: str
    page: Page
    worker_ids: list[str] = field(default_factory=list)
    votes: list[Vote] = field(default_factory=list)

    def votes_of(self, worker: str) -> list[Vote]:
        return [vote for vote in self.votes if vote.worker_id == worker]


def read_payload(s3: Any, event: ConsolidationEvent) -> list[Any]:
    """The list of dataset objects at ``payload.s3Uri``; a missing or bad file raises, naming it."""
    raw = read_s3_text(s3, event.payload_s3_uri)
    try:
        payload = safe_json.loads(raw)
    except ValueError as err:  # not JSON, not UTF-8, or nested too deep
        raise EventError(f"payload {event.payload_s3_uri} is not valid JSON: {err}") from err
    if not isinstance(payload, list):
        raise EventError(f"payload {event.payload_s3_uri} must be a JSON list of dataset objects")
    return payload


# --- Pure steps -------------------------------------------------------------------------------


def merge_dataset_objects(payload: Sequence[Any]) -> list[DatasetObject]:
    """Validate the entries; one object per ``datasetObjectId`` (first-seen order), annotations merged.

    An entry that repeats an id with another data object is not the same task: it is logged and
    left out rather than guessed at.
    """
    merged: dict[str, DatasetObject] = {}
    for position, entry in enumerate(payload):
        try:
            obj = parse_dataset_object(entry, position)
        except EventError as err:
            log(LOGGER, logging.ERROR, f"dataset object skipped: {err}", position=position)
            continue
        first = merged.get(obj.dataset_object_id)
        if first is None:
            merged[obj.dataset_object_id] = obj
        elif first.data_object != obj.data_object:
            log(
                LOGGER,
                logging.ERROR,
                "repeated datasetObjectId with another data object skipped",
                datasetObjectId=obj.dataset_object_id,
                position=position,
            )
        else:
            log(LOGGER, logging.WARNING, "repeated datasetObjectId merged", datasetObjectId=obj.dataset_object_id)
            merged[obj.dataset_object_id] = DatasetObject(
                first.dataset_object_id, first.data_object, first.annotations + obj.annotations, first.position
            )
    return list(merged.values())


def collect_votes(
    dataset_object: DatasetObject,
    page: Page,
    answers: Mapping[str, bytes | Exception] | None = None,
) -> ObjectVotes:
    """Parse each worker's answer (``answers`` holds what was read for ``s3Uri`` answers); skip
    unreadable answers and repeated worker ids, logging each with the object and worker id."""
    answers = answers or {}
    result = ObjectVotes(dataset_object.dataset_object_id, page)
    for annotation in dataset_object.annotations:
        worker = annotation.worker_id
        fields = {"datasetObjectId": dataset_object.dataset_object_id, "workerId": worker}
        if isinstance(worker, str) and worker in result.worker_ids:
            log(LOGGER, logging.WARNING, "repeated annotation from the same worker ignored", **fields)
            continue
        try:
            content = _annotation_content(annotation, answers)
            answer = parse_worker_answer(worker, content, page.entries)
        except AnnotationError as err:
            log(LOGGER, logging.ERROR, f"malformed annotation skipped: {err}", **fields)
            continue
        for note in answer.notes:
            log(LOGGER, logging.WARNING, note, **fields)
        result.worker_ids.append(answer.worker_id)
        result.votes.extend(answer.votes)
    return result


def _annotation_content(annotation: Annotation, answers: Mapping[str, bytes | Exception]) -> Any:
    if annotation.s3_uri is None:
        if annotation.content is None:
            raise AnnotationError("annotationData has neither 'content' nor 's3Uri'")
        return annotation.content
    read = answers.get(annotation.s3_uri)
    if read is None:
        raise AnnotationError(f"answer {annotation.s3_uri} was not read")
    if isinstance(read, Exception):
        raise AnnotationError(f"answer {annotation.s3_uri} unreadable: {read}")
    return read


def plan_pair_votes(objects: Iterable[ObjectVotes]) -> dict[tuple[str, str], PairVotes]:
    """Every vote on data, grouped by (image, label): one write per pair however many pages show it.

    Gold items are left out. A worker who answered the same pair twice in one request (two pages
    showing it) is counted with the first answer; the second is logged if it differs.
    """
    plan: dict[tuple[str, str], PairVotes] = {}
    for obj in objects:
        for vote in obj.votes:
            entry = obj.page.entries[vote.index]
            if entry.gold is not None:
                continue
            key = (entry.s3_image_url, entry.label)
            pair = plan.setdefault(key, PairVotes(entry.s3_image_url, entry.label, entry.confidence))
            earlier = pair.verdicts.setdefault(vote.worker_id, vote.verdict)
            if earlier != vote.verdict:
                log(
                    LOGGER,
                    logging.WARNING,
                    "worker answered the same image twice in one request; the first answer counts",
                    workerId=vote.worker_id,
                    datasetObjectId=obj.dataset_object_id,
                    s3_image_url=entry.s3_image_url,
                    label=entry.label,
                )
    return plan


def plan_worker_pages(objects: Iterable[ObjectVotes], labeling_job_arn: str) -> dict[tuple[str, str], WorkerPage]:
    """One record per worker and round page (release 0.1 pages have no round, hence none)."""
    plan: dict[tuple[str, str], WorkerPage] = {}
    for obj in objects:
        document = obj.page.document
        if document is None:
            continue
        for worker in obj.worker_ids:
            record = score_page(
                document,
                worker,
                obj.votes_of(worker),
                labeling_job_arn=labeling_job_arn,
                dataset_object_id=obj.dataset_object_id,
            )
            plan.setdefault(_page_key(obj, worker), record)
    return plan


def _verdict_chars(stored: Mapping[str, str], workers: Sequence[str]) -> str:
    return "".join(VERDICT_CHARS.get(stored.get(worker, ""), CHAR_NONE) for worker in workers)


def summarise(
    obj: ObjectVotes,
    pairs: Mapping[tuple[str, str], StoredPair],
    pages: Mapping[tuple[str, str], WorkerPage],
) -> dict[str, Any]:
    """The consolidated annotation of one page, from what the table holds after the writes.

    Small on purpose (Lambda's response limit is 6 MB for the whole request): per data image its
    index, the table's totals and this page's workers' stored verdicts as one character each
    (``c``/``d``/``-``, in ``workers`` order); the table and the batch document hold the rest.
    """
    images, gold = [], []
    for index, entry in enumerate(obj.page.entries):
        if entry.gold is not None:
            marks = []
            for worker in obj.worker_ids:
                record = pages.get(_page_key(obj, worker))
                in_range = record is not None and index < len(record.verdicts)
                marks.append(record.verdicts[index] if in_range else CHAR_NONE)
            gold.append({"index": index, "gold": entry.gold, "votes": "".join(marks)})
            continue
        stored = pairs.get((entry.s3_image_url, entry.label), StoredPair())
        images.append(
            {
                "index": index,
                "WorkerConfirmCount": stored.confirm,
                "WorkerDisconfirmCount": stored.disconfirm,
                "votes": _verdict_chars(stored.votes, obj.worker_ids),
            }
        )
    summary: dict[str, Any] = {
        "batch": obj.page.name,
        "label": obj.page.label,
        "workers": list(obj.worker_ids),
        "images": images,
    }
    if gold:
        summary["gold"] = gold
    return summary


def _page_key(obj: ObjectVotes, worker: str) -> tuple[str, str]:
    """(worker, round/part/batch): one record whichever object of the request showed the page."""
    return (worker, obj.page.name)


# --- I/O --------------------------------------------------------------------------------------


def _resolve_pages(s3: Any, objects: Sequence[DatasetObject]) -> dict[str, Page]:
    """datasetObjectId -> its page; batch files read once each, concurrently; failures logged, left out."""
    files = read_many(s3, (obj.data_object.s3_uri for obj in objects if obj.data_object.s3_uri))
    pages: dict[str, Page] = {}
    parsed_files: dict[str, Page | ValueError] = {}
    for obj in objects:
        ref = obj.data_object
        try:
            if ref.s3_uri is None:
                pages[obj.dataset_object_id] = parse_page(ref.inline, source=INLINE_NAME)
                continue
            if ref.s3_uri not in parsed_files:
                read = files[ref.s3_uri]
                if isinstance(read, Exception):
                    raise read
                try:
                    parsed_files[ref.s3_uri] = parse_page(read, source=ref.s3_uri)
                except ValueError as err:
                    parsed_files[ref.s3_uri] = err
            parsed = parsed_files[ref.s3_uri]
            if isinstance(parsed, ValueError):
                raise parsed
            pages[obj.dataset_object_id] = parsed
        except (ObjectUnreadableError, ValueError) as err:
            fields = {"datasetObjectId": obj.dataset_object_id, "position": obj.position}
            log(LOGGER, logging.ERROR, f"dataset object skipped: {err}", **fields)
    return pages


def _write(
    ddb: Any,
    table: str,
    pairs: Mapping[tuple[str, str], PairVotes],
    pages: Mapping[tuple[str, str], WorkerPage],
) -> tuple[dict[tuple[str, str], PairResult], dict[tuple[str, str], WorkerPage]]:
    if not pairs and not pages:
        return {}, {}
    pool = _writers()
    pair_futures = {key: pool.submit(record_pair_votes, ddb, table, pair) for key, pair in pairs.items()}
    page_futures = {key: pool.submit(record_worker_page, ddb, table, page) for key, page in pages.items()}
    pair_results = {key: future.result() for key, future in pair_futures.items()}
    page_results = {key: future.result()[0] for key, future in page_futures.items()}
    return pair_results, page_results


_writer_pool: ThreadPoolExecutor | None = None
_writer_pool_lock = threading.Lock()


def _writers() -> ThreadPoolExecutor:
    """The vote writers' threads, started once per warm function: starting 28 threads cost about a
    tenth of a 25-image request's CPU (bench/README.md). The tasks never wait on each other, so
    concurrent invocations sharing the pool only queue behind one another."""
    global _writer_pool
    with _writer_pool_lock:
        if _writer_pool is None:
            _writer_pool = ThreadPoolExecutor(max_workers=VOTE_WRITERS, thread_name_prefix="vote-writer")
        return _writer_pool


def consolidate(s3: Any, ddb: Any, table: str, event: ConsolidationEvent) -> list[dict[str, Any]]:
    """Count every vote of the request once and return Ground Truth's consolidation response."""
    objects = merge_dataset_objects(read_payload(s3, event))
    pages = _resolve_pages(s3, objects)
    answer_uris = (a.s3_uri for obj in objects if obj.dataset_object_id in pages for a in obj.annotations if a.s3_uri)
    answers = read_many(s3, answer_uris)
    resolved = [
        collect_votes(obj, pages[obj.dataset_object_id], answers) for obj in objects if obj.dataset_object_id in pages
    ]

    pair_plan = plan_pair_votes(resolved)
    page_plan = plan_worker_pages(resolved, event.labeling_job_arn)
    pair_results, stored_pages = _write(ddb, table, pair_plan, page_plan)
    _log_outcomes(pair_plan, pair_results)

    stored_pairs = {key: result.stored for key, result in pair_results.items()}
    unvoted = [
        (entry.s3_image_url, entry.label)
        for obj in resolved
        for entry in obj.page.entries
        if entry.gold is None and (entry.s3_image_url, entry.label) not in stored_pairs
    ]
    if unvoted:  # images nobody answered in this request: still report what the table holds
        stored_pairs.update(read_pairs(ddb, table, unvoted))
    return [
        {
            "datasetObjectId": obj.dataset_object_id,
            "consolidatedAnnotation": {
                "content": {event.label_attribute_name: summarise(obj, stored_pairs, stored_pages)}
            },
        }
        for obj in resolved
    ]


def _log_outcomes(plan: Mapping[tuple[str, str], PairVotes], results: Mapping[tuple[str, str], PairResult]) -> None:
    counts = {outcome.value: 0 for outcome in VoteOutcome}
    requests = 0
    for key, result in results.items():
        requests += result.requests
        for worker, outcome in result.outcomes.items():
            counts[outcome.value] += 1
            if outcome is VoteOutcome.CONFLICT:
                log(
                    LOGGER,
                    logging.WARNING,
                    "worker already counted with the other verdict; the first vote stands",
                    workerId=worker,
                    s3_image_url=key[0],
                    label=key[1],
                    stored=result.stored.votes.get(worker),
                    given=plan[key].verdicts.get(worker),
                )
    log(LOGGER, logging.INFO, "votes consolidated", images=len(results), vote_requests=requests, **counts)
