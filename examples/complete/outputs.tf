# Every output of the module, so tests and scripts can read the whole deployment from this root module.

output "analyzer_arn" {
  description = "ARN of the analyzer created by the module (null when `create_analyzer` is false)."
  value       = module.access_analyzer_remediation.analyzer_arn
}

output "analyzer_arns" {
  description = "ARNs of every analyzer whose findings are remediated (AAR_ANALYZER_ARNS)."
  value       = module.access_analyzer_remediation.analyzer_arns
}

output "event_rule_name" {
  description = "Name of the EventBridge rule."
  value       = module.access_analyzer_remediation.event_rule_name
}

output "event_rule_arn" {
  description = "ARN of the EventBridge rule."
  value       = module.access_analyzer_remediation.event_rule_arn
}

output "event_pattern" {
  description = "Event pattern (JSON) of the EventBridge rule."
  value       = module.access_analyzer_remediation.event_pattern
}

output "queue_url" {
  description = "URL of the SQS queue the rule sends findings to."
  value       = module.access_analyzer_remediation.queue_url
}

output "queue_arn" {
  description = "ARN of the SQS queue the rule sends findings to."
  value       = module.access_analyzer_remediation.queue_arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue of messages the Lambda failed to process."
  value       = module.access_analyzer_remediation.dlq_url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue of messages the Lambda failed to process."
  value       = module.access_analyzer_remediation.dlq_arn
}

output "events_dlq_url" {
  description = "URL of the dead-letter queue of events EventBridge could not deliver."
  value       = module.access_analyzer_remediation.events_dlq_url
}

output "events_dlq_arn" {
  description = "ARN of the dead-letter queue of events EventBridge could not deliver."
  value       = module.access_analyzer_remediation.events_dlq_arn
}

output "lambda_function_name" {
  description = "Name of the Lambda function."
  value       = module.access_analyzer_remediation.lambda_function_name
}

output "lambda_function_arn" {
  description = "ARN of the Lambda function."
  value       = module.access_analyzer_remediation.lambda_function_arn
}

output "lambda_role_name" {
  description = "Name of the Lambda execution role."
  value       = module.access_analyzer_remediation.lambda_role_name
}

output "lambda_role_arn" {
  description = "ARN of the Lambda execution role."
  value       = module.access_analyzer_remediation.lambda_role_arn
}

output "lambda_log_group_name" {
  description = "Name of the Lambda log group."
  value       = module.access_analyzer_remediation.lambda_log_group_name
}

output "lambda_environment" {
  description = "Environment variables of the Lambda function."
  value       = module.access_analyzer_remediation.lambda_environment
}

output "sns_topic_arn" {
  description = "ARN of the SNS topic receiving the digests (and, unless `alarm_topic_arn` is set, the alarms)."
  value       = module.access_analyzer_remediation.sns_topic_arn
}

output "audit_table_name" {
  description = "Name of the DynamoDB audit / lock table."
  value       = module.access_analyzer_remediation.audit_table_name
}

output "audit_table_arn" {
  description = "ARN of the DynamoDB audit / lock table."
  value       = module.access_analyzer_remediation.audit_table_arn
}

output "alarm_arns" {
  description = "ARNs of the CloudWatch alarms by purpose (empty when `create_alarms` is false)."
  value       = module.access_analyzer_remediation.alarm_arns
}

output "dashboard_arn" {
  description = "ARN of the CloudWatch dashboard (null when `create_dashboard` is false)."
  value       = module.access_analyzer_remediation.dashboard_arn
}

output "sweep_schedule_arn" {
  description = "ARN of the EventBridge Scheduler schedule of the sweep (null when `enable_sweep` is false)."
  value       = module.access_analyzer_remediation.sweep_schedule_arn
}

output "scheduler_role_arn" {
  description = "ARN of the role EventBridge Scheduler uses to invoke the sweep (null when `enable_sweep` is false)."
  value       = module.access_analyzer_remediation.scheduler_role_arn
}

output "cli_environment" {
  description = "Shell `export` lines that point the `aa-remediate` CLI at this deployment (same settings as the Lambda, plus AWS_REGION)."
  value       = module.access_analyzer_remediation.cli_environment
}

output "kms_key_arn" {
  description = "ARN of the customer managed key (null when create_kms_key is false)."
  value       = local.kms_key_arn
}
