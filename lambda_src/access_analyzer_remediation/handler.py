"""Lambda entry point: EventBridge event, SQS batch (partial failures) or scheduled sweep.

Kept thin: parsing lives in findings, decisions in planner, AWS work in engine. Settings are read at import, so a
bad configuration fails the cold start with a clear message. boto3 is imported on the first invocation only.
"""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit

from .engine import Outcome, Remediator, sweep
from .findings import FindingRef, Ignored, MalformedEvent, parse_event
from .settings import Settings

SETTINGS = Settings.from_env(os.environ)
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "access-analyzer-remediation"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "AccessAnalyzerRemediation"))
copy_config_to_registered_loggers(source_logger=logger, include={"access_analyzer_remediation"})
if SETTINGS.tracing:
    from aws_lambda_powertools import Tracer

    Tracer()  # patches botocore: AWS calls show up as X-Ray subsegments

_remediator: Remediator | None = None


class RecordFailed(RuntimeError):
    """Hands one SQS record back to the queue (it is retried, then dead-lettered)."""


def remediator() -> Remediator:
    global _remediator  # noqa: PLW0603 - one engine (and its boto3 clients) per execution environment
    if _remediator is None:
        from .clients import AwsClients

        _remediator = Remediator(SETTINGS, AwsClients())
    return _remediator


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    account = _account(context)
    if isinstance(event, dict) and "Records" in event:
        return _handle_batch(event, context, account)
    if isinstance(event, dict) and event.get("aar_action") == "sweep":
        outcomes = sweep(remediator())
        return {"processed": len(outcomes), "failed": sum(_finish(outcomes, account))}
    ref = _parse(event)
    if ref is None:
        return {"processed": 0, "failed": 0}
    [outcome] = remediator().process([ref])
    if any(_finish([outcome], account)):
        # Direct EventBridge -> Lambda invocations are asynchronous: raising makes Lambda retry the event.
        raise RecordFailed(f"finding {ref.finding_id}: {outcome.decision} ({outcome.reason})")
    return {"processed": 1, "failed": 0}


def _handle_batch(event: dict[str, Any], context: Any, account: str) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    records = event["Records"]
    refs: list[tuple[str, FindingRef]] = []
    for record in records:
        message_id = record.get("messageId", "")
        try:
            body = json.loads(record.get("body") or "")
        except (TypeError, ValueError):
            _malformed("body is not JSON", message_id)
            continue
        ref = _parse(body, message_id)
        if ref is not None:
            refs.append((message_id, ref))
    outcomes = remediator().process([ref for _, ref in refs])
    retry = _finish(outcomes, account)
    failed_messages = {message_id for (message_id, _), again in zip(refs, retry, strict=True) if again}

    def record_handler(record: SQSRecord) -> None:
        if record.message_id in failed_messages:
            raise RecordFailed(record.message_id)

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)


def _parse(event: object, message_id: str = "") -> FindingRef | None:
    """A FindingRef to verify, or None for events that are acknowledged without action."""
    try:
        parsed = parse_event(event)
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


def _finish(outcomes: list[Outcome], account: str) -> list[bool]:
    """Metrics, then the digest. Returns, per outcome, whether to retry it (failed; notified ones if SNS failed)."""
    names = {"remediate": "Remediated", "notify": "NotifiedOnly", "skip": "Skipped", "failed": "Failed"}
    for outcome in outcomes:
        _count(names[outcome.decision], outcome.reason)
    try:
        remediator().notify(outcomes, account)
    except Exception as err:
        # The audit records are already written; retrying the findings re-sends their notice (as already contained).
        logger.exception("notification failed", extra={"error": repr(err)})
        metrics.add_metric(name="NotificationFailed", unit=MetricUnit.Count, value=1)
        return [o.failed or o.notifies for o in outcomes]
    return [o.failed for o in outcomes]


def _count(name: str, reason: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=f"{name}.{reason}", unit=MetricUnit.Count, value=1)


def _account(context: Any) -> str:
    arn = getattr(context, "invoked_function_arn", "") or ""
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else "this account"
