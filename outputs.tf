################################################################################
# Access Analyzer and events
################################################################################

output "analyzer_arn" {
  description = "ARN of the analyzer created by the module (null when `create_analyzer` is false)."
  value       = try(aws_accessanalyzer_analyzer.this[0].arn, null)
}

output "analyzer_arns" {
  description = "ARNs of every analyzer whose findings are remediated (AAR_ANALYZER_ARNS)."
  value       = local.analyzer_arns
}

output "event_rule_name" {
  description = "Name of the EventBridge rule."
  value       = aws_cloudwatch_event_rule.this.name
}

output "event_rule_arn" {
  description = "ARN of the EventBridge rule."
  value       = aws_cloudwatch_event_rule.this.arn
}

output "event_pattern" {
  description = "Event pattern (JSON) of the EventBridge rule."
  value       = local.event_pattern
}

################################################################################
# Queues
################################################################################

output "queue_url" {
  description = "URL of the SQS queue the rule sends findings to."
  value       = aws_sqs_queue.this.url
}

output "queue_arn" {
  description = "ARN of the SQS queue the rule sends findings to."
  value       = aws_sqs_queue.this.arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue of messages the Lambda failed to process."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue of messages the Lambda failed to process."
  value       = aws_sqs_queue.dlq.arn
}

output "events_dlq_url" {
  description = "URL of the dead-letter queue of events EventBridge could not deliver."
  value       = aws_sqs_queue.events_dlq.url
}

output "events_dlq_arn" {
  description = "ARN of the dead-letter queue of events EventBridge could not deliver."
  value       = aws_sqs_queue.events_dlq.arn
}

################################################################################
# Lambda
################################################################################

output "lambda_function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "lambda_function_arn" {
  description = "ARN of the Lambda function."
  value       = aws_lambda_function.this.arn
}

output "lambda_role_name" {
  description = "Name of the Lambda execution role."
  value       = aws_iam_role.lambda.name
}

output "lambda_role_arn" {
  description = "ARN of the Lambda execution role."
  value       = aws_iam_role.lambda.arn
}

output "lambda_log_group_name" {
  description = "Name of the Lambda log group."
  value       = aws_cloudwatch_log_group.lambda.name
}

output "lambda_environment" {
  description = "Environment variables of the Lambda function, but AAR_MEMBER_ROLE_EXTERNAL_ID (sensitive)."
  value       = local.lambda_settings
}

################################################################################
# Notifications, audit, alarms, sweep
################################################################################

output "sns_topic_arn" {
  description = "ARN of the SNS topic receiving the digests (and, unless `alarm_topic_arn` is set, the alarms)."
  value       = aws_sns_topic.this.arn
}

output "audit_table_name" {
  description = "Name of the DynamoDB audit / lock table."
  value       = aws_dynamodb_table.audit.name
}

output "audit_table_arn" {
  description = "ARN of the DynamoDB audit / lock table."
  value       = aws_dynamodb_table.audit.arn
}

output "alarm_arns" {
  description = "ARNs of the CloudWatch alarms by purpose (empty when `create_alarms` is false)."
  value = merge(
    { for k, a in aws_cloudwatch_metric_alarm.dlq : "${k}-not-empty" => a.arn },
    { for a in aws_cloudwatch_metric_alarm.lambda_errors : "lambda-errors" => a.arn },
    { for a in aws_cloudwatch_metric_alarm.notification_failed : "notification-failed" => a.arn },
    { for a in aws_cloudwatch_metric_alarm.queue_age : "queue-age" => a.arn },
  )
}

output "dashboard_arn" {
  description = "ARN of the CloudWatch dashboard (null when `create_dashboard` is false)."
  value       = try(aws_cloudwatch_dashboard.this[0].dashboard_arn, null)
}

output "sweep_schedule_arn" {
  description = "ARN of the EventBridge Scheduler schedule of the sweep (null when `enable_sweep` is false)."
  value       = try(aws_scheduler_schedule.sweep[0].arn, null)
}

output "scheduler_role_arn" {
  description = "ARN of the role EventBridge Scheduler uses to invoke the sweep (null when `enable_sweep` is false)."
  value       = try(aws_iam_role.scheduler[0].arn, null)
}

output "scheduler_role_name" {
  description = "Name of the role EventBridge Scheduler uses to invoke the sweep (null when `enable_sweep` is false)."
  value       = try(aws_iam_role.scheduler[0].name, null)
}

output "cli_environment" {
  description = "Shell `export` lines that point the `aa-remediate` CLI at this deployment (same settings as the Lambda, plus AWS_REGION; AAR_MEMBER_ROLE_EXTERNAL_ID, sensitive, is left out: export it yourself in organization mode)."
  value = join("\n", concat(
    ["export AWS_REGION='${local.region}'", "export AWS_DEFAULT_REGION='${local.region}'"],
    [for k, v in local.lambda_settings : "export ${k}='${replace(v, "'", "'\\''")}'"],
  ))
}
