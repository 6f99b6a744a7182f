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
