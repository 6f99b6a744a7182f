"""Lambda entry point: an SQS batch (partial failures), an EventBridge event, or the scheduled sweep.

Kept thin: parsing lives in findings, decisions in planner, AWS work in engine and cycle. Settings are read at import,
so a bad configuration fails the cold start with a clear message. boto3 is imported on the first invocation only.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from .clients import gc_paused

# Powertools, botocore and the package are imported once and live as long as the execution environment: no garbage
# collector passes over them while they load (clients.gc_paused).
with gc_paused():
    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    from . import approval
    from .confirmation import Confirmation, Confirmer, MalformedConfirmation, is_confirmation
    from .engine import NotificationFailed, Remediator
    from .findings import FindingRef, Ignored, MalformedEvent, parse_message
    from .notify import HELD_BACK_REASONS, INTENDED_REASONS
    from .outcomes import Outcome
    from .settings import Settings

SETTINGS = Settings.from_env(os.environ)
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "access-analyzer-remediation"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "AccessAnalyzerRemediation"))
copy_config_to_registered_loggers(source_logger=logger, include={"access_analyzer_remediation"})
if SETTINGS.tracing:
    from aws_lambda_powertools import Tracer

    Tracer()  # patches botocore: AWS calls show up as X-Ray subsegments

_remediator: Remediator | None = None
# Counted once more per resource type (dimensions service and resource_type; docs/architecture.md, "Metrics").
PER_TYPE_METRICS = ("Remediated", "NotifiedOnly", "NotContained", "Failed")
# The resource_type of an outcome without a finding GetFinding returned (not read, not found, unknown analyzer,
# mismatch): what an event claims never becomes a dimension value.
UNKNOWN_RESOURCE_TYPE = "unknown"


class RecordFailed(RuntimeError):
    """Hands one SQS record back to the queue (it is retried, then dead-lettered)."""


class UnexpectedBatch(ValueError):
    """An event with "Records" that is not an SQS batch as the event source mapping sends it (a non-empty list of
    records, each with a string messageId). Only a principal the function's resource policy allows could send one;
    it is refused before anything is read or changed."""


def _sqs_records(event: dict[str, Any]) -> list[dict[str, Any]]:
    records = event["Records"]
    if not isinstance(records, list) or not records:
        raise UnexpectedBatch(f"Records is not a non-empty list of SQS records: {type(records).__name__}")
    for index, record in enumerate(records):
        if not isinstance(record, dict) or not isinstance(record.get("messageId"), str) or not record["messageId"]:
            raise UnexpectedBatch(f"Records[{index}] is not an SQS record with a messageId")
    return records


def remediator() -> Remediator:
    global _remediator  # noqa: PLW0603 - one engine (and its boto3 clients) per execution environment
    if _remediator is None:
        from .clients import AwsClients

        _remediator = Remediator(SETTINGS, AwsClients())
    return _remediator


def confirmer() -> Confirmer:
    """Confirm after writing (confirmation.py): the engine's, which schedules the checks of what it writes."""
    return remediator().confirmer


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    account = _account(context)
    remaining = _remaining(context)
    if isinstance(event, dict) and "Records" in event:
        return _handle_batch(event, context, account, remaining)
    if isinstance(event, dict) and event.get("aar_action") == "sweep":
        # Raises when it cannot list or enqueue: the Errors alarm and the scheduler's retries see it. The notices
        # waiting in the outbox go out either way.
        recovered: list[Outcome] = []
        try:
            enqueued = remediator().enqueue_sweep()
            logger.info("sweep enqueued", enqueued=enqueued)
        finally:
            try:  # approve mode: requests past their deadline are applied (re-verified) or expire (approval.py)
                approval.settle_due(remediator(), account)
            finally:
                try:  # confirmations whose verdict is overdue: sent again, or checked at last (confirmation.py)
                    recovered = confirmer().recover(remaining)
                finally:
                    _count_confirmations()
                    if any(_finish(recovered, account, flush=True)):
                        raise RecordFailed("the sweep's notices could not be published: they wait in the outbox")
        return {"enqueued": enqueued}
    ref = _parse(event)
    if ref is None:
        return {"processed": 0, "failed": 0}
    [outcome] = remediator().process([ref], remaining)
    _count_confirmations()
    if any(_finish([outcome], account, flush=False)):
        # Direct EventBridge -> Lambda invocations are asynchronous: raising makes Lambda retry the event.
        raise RecordFailed(f"finding {ref.finding_id}: {outcome.decision} ({outcome.reason})")
    return {"processed": 1, "failed": 0}


def _handle_batch(
    event: dict[str, Any], context: Any, account: str, remaining: Callable[[], float] | None
) -> dict[str, Any]:
    """The event source mapping's batch, handled as one (findings verified and roles handled concurrently), so the
    response is built here: ReportBatchItemFailures' `batchItemFailures`, one entry per record to hand back.
    Powertools' BatchProcessor handles records one by one through a record handler, which this batch-wide path
    does not fit (and its import costs the cold start about 60 ms)."""
    del context
    records = _sqs_records(event)
    refs: list[tuple[str, FindingRef]] = []
    checks: list[tuple[str, object]] = []
    redelivered = False
    for record in records:
        message_id = str(record["messageId"])
        redelivered |= str(record.get("attributes", {}).get("ApproximateReceiveCount", "1")) not in ("", "1")
        try:
            body = json.loads(record.get("body") or "")
        except (TypeError, ValueError):
            _malformed("body is not JSON", message_id)
            continue
        if is_confirmation(body):  # a delayed check of a containment: never a decision to write
            checks.append((message_id, body))
            continue
        ref = _parse(body, message_id)
        if ref is not None:
            refs.append((message_id, ref))
    confirmed, unchecked = _confirm(checks)
    retry: list[bool] = []

    def announce(outcomes: list[Outcome]) -> None:
        # A redelivery may be the first to meet a notice an earlier invocation could not send: send those too.
        retry.extend(_finish([*outcomes, *(o for _, o in confirmed)], account, flush=redelivered))

    # The notices go out while the containments' confirmations are scheduled (Remediator.process).
    remediator().process([ref for _, ref in refs], remaining, meanwhile=announce)
    _count_confirmations()
    ids = [message_id for message_id, _ in refs] + [message_id for message_id, _ in confirmed]
    failed = list(dict.fromkeys([*(m for m, again in zip(ids, retry, strict=True) if again), *unchecked]))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def _confirm(checks: Sequence[tuple[str, object]]) -> tuple[list[tuple[str, Outcome]], list[str]]:
    """Run the delayed checks: (message id, outcome to announce) pairs, and the message ids to hand back."""
    announced: list[tuple[str, Outcome]] = []
    failed: list[str] = []
    for message_id, body in checks:
        try:
            announced += [(message_id, o) for o in confirmer().check(Confirmation.parse(body))]
        except MalformedConfirmation as err:
            _malformed(f"confirmation: {err}", message_id)
        except Exception as err:  # GetFinding, the re-send or the record failed: the queue redelivers it
            logger.warning("confirmation check failed", extra={"message_id": message_id, "error": repr(err)})
            failed.append(message_id)
    return announced, failed


def _parse(event: object, message_id: str = "") -> FindingRef | None:
    """A FindingRef to verify, or None for events that are acknowledged without action."""
    try:
        parsed = parse_message(event)
    except MalformedEvent as err:
        _malformed(str(err), message_id)
        return None
    if isinstance(parsed, Ignored):
        logger.info("event ignored", reason=parsed.reason, finding_id=parsed.finding_id)
        _count("Ignored", parsed.reason)
        return None
    return parsed


def _malformed(reason: str, message_id: str) -> None:
    # Reported once and acknowledged: a malformed event never becomes valid, so retrying it is pointless.
    logger.warning("malformed event dropped", reason=reason, message_id=message_id)
    _count("Malformed", "malformed_event")


def _finish(outcomes: Sequence[Outcome], account: str, flush: bool) -> list[bool]:
    """Metrics, then the notices. Returns, per outcome, whether to retry it: failed ones, and those whose notice
    could not be published (it waits in the outbox; the redelivery sends it)."""
    names = {"remediate": "Remediated", "notify": "NotifiedOnly", "skip": "Skipped", "failed": "Failed"}
    engine = remediator()
    per_type: Counter[tuple[str, str]] = Counter()
    for outcome in (each for o in outcomes for each in o.all()):
        resource_type = _resource_type(outcome)
        _count(names[outcome.decision], outcome.reason)
        per_type[resource_type, names[outcome.decision]] += 1
        if outcome.decision == "notify" and outcome.reason not in HELD_BACK_REASONS | INTENDED_REASONS:
            metrics.add_metric(name="NotContained", unit=MetricUnit.Count, value=1)
            per_type[resource_type, "NotContained"] += 1
        if outcome.reason == "no_confirmed_subscription":
            metrics.add_metric(name="HeldBackNoSubscription", unit=MetricUnit.Count, value=1)
    _count_per_type(per_type)
    for name, value in (("StaleRead", engine.counters.stale_reads), ("LedgerRepaired", engine.counters.repaired)):
        if value:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    engine.counters.stale_reads = engine.counters.repaired = 0
    try:
        engine.announce(outcomes, account, flush=flush)
    except NotificationFailed as err:
        logger.exception("notification failed", extra={"error": repr(err)})
        metrics.add_metric(name="NotificationFailed", unit=MetricUnit.Count, value=1)
        if not outcomes:
            raise  # the sweep's flush: fail loudly
        return [o.failed or any(each.notifies for each in o.all()) for o in outcomes]
    return [o.failed for o in outcomes]


def _count_confirmations() -> None:
    """The confirmations scheduled, recovered or not scheduled since the last count (Confirmer.counters)."""
    for name, value in confirmer().counters.take().items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def _count(name: str, reason: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=f"{name}.{reason}", unit=MetricUnit.Count, value=1)


def _resource_type(outcome: Outcome) -> str:
    if outcome.finding is None or not outcome.verified:
        return UNKNOWN_RESOURCE_TYPE
    return outcome.finding.resource_type


def _count_per_type(counts: Counter[tuple[str, str]]) -> None:
    """One EMF document per resource type (dimensions service and resource_type) holding the invocation's sum of
    each of PER_TYPE_METRICS: a batch of 1,000 findings of two types writes two documents, not 1,000."""
    counted = {key: value for key, value in counts.items() if key[1] in PER_TYPE_METRICS}
    for resource_type in sorted({resource_type for resource_type, _ in counted}):
        document = EphemeralMetrics(namespace=metrics.namespace, service=metrics.service)
        document.add_dimension(name="resource_type", value=resource_type)
        for name in PER_TYPE_METRICS:
            if (resource_type, name) in counted:
                document.add_metric(name=name, unit=MetricUnit.Count, value=counted[resource_type, name])
        document.flush_metrics()


def _account(context: Any) -> str:
    arn = getattr(context, "invoked_function_arn", "") or ""
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else "this account"


def _remaining(context: Any) -> Callable[[], float] | None:
    """Seconds left in this invocation (None outside Lambda: no limit)."""
    method = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(method):
        return None
    return lambda: float(method()) / 1000.0
