locals {
  dlq_alarms = var.create_alarms ? {
    dlq = {
      queue       = aws_sqs_queue.dlq.name
      description = "Messages the Lambda failed to process ${var.max_receive_count} times are waiting in the dead-letter queue."
    }
    events-dlq = {
      queue       = aws_sqs_queue.events_dlq.name
      description = "Access Analyzer events EventBridge could not deliver to the queue are waiting in the events dead-letter queue."
    }
  } : {}
}

resource "aws_cloudwatch_metric_alarm" "dlq" {
  for_each = local.dlq_alarms

  alarm_name          = "${var.name}-${each.key}-not-empty"
  alarm_description   = each.value.description
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value.queue }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [local.alarm_topic_arn]
  ok_actions          = [local.alarm_topic_arn]

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-lambda-errors"
  alarm_description   = "The ${var.name} Lambda function failed (see its log group)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [local.alarm_topic_arn]
  ok_actions          = [local.alarm_topic_arn]

  tags = var.tags
}

# A digest could not be published (Powertools metric of the Lambda, dimension service = POWERTOOLS_SERVICE_NAME).
# The notices stay in the outbox and are retried, but until then nobody hears of what was changed. NotContained
# gets no alarm on purpose: it is informational (docs/architecture.md, "Metrics").
resource "aws_cloudwatch_metric_alarm" "notification_failed" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-notification-failed"
  alarm_description   = "The ${var.name} Lambda could not publish a digest to its SNS topic; the notices wait in the audit table's outbox (see the function's log group)."
  namespace           = var.metrics_namespace
  metric_name         = "NotificationFailed"
  dimensions          = { service = var.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [local.alarm_topic_arn]
  ok_actions          = [local.alarm_topic_arn]

  tags = var.tags
}

# A containment did not resolve its finding (still ACTIVE at confirm_changes.deadline_seconds after the write), or a
# new ACTIVE finding appeared on the contained resource after the write (confirmation.py): access is still open.
resource "aws_cloudwatch_metric_alarm" "containment_unresolved" {
  count = var.create_alarms && var.confirm_changes.enabled ? 1 : 0

  alarm_name          = "${var.name}-containment-unresolved"
  alarm_description   = "A Deny the ${var.name} Lambda wrote did not resolve its Access Analyzer finding (or a new finding appeared on the resource): see the NOT RESOLVED notice and the CONFIRM records in the audit table."
  namespace           = var.metrics_namespace
  metric_name         = "ContainmentUnresolved"
  dimensions          = { service = var.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [local.alarm_topic_arn]
  ok_actions          = [local.alarm_topic_arn]

  tags = var.tags
}

# Findings waiting in the queue for longer than queue_age_alarm_seconds: the pipeline is stuck (throttled, failing,
# out of concurrency) even though nothing reached a dead-letter queue yet.
resource "aws_cloudwatch_metric_alarm" "queue_age" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-queue-age"
  alarm_description   = "A finding has waited more than ${var.queue_age_alarm_seconds} seconds in the ${aws_sqs_queue.this.name} queue: the ${var.name} Lambda is not keeping up or keeps failing."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.this.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.queue_age_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [local.alarm_topic_arn]
  ok_actions          = [local.alarm_topic_arn]

  tags = var.tags

  lifecycle {
    # SQS deletes a message after the queue's retention, so the oldest message can never be older than that.
    precondition {
      condition     = var.queue_age_alarm_seconds < local.queue_message_retention_seconds
      error_message = "queue_age_alarm_seconds must be below the queue's message retention (${local.queue_message_retention_seconds} seconds), or the alarm could never fire."
    }
  }
}
