output "analyzer_arns" {
  description = "ARNs of every analyzer whose findings are forwarded: pass them to the central module's `regional_analyzer_arns`."
  value       = local.analyzer_arns
}

output "analyzer_arn" {
  description = "ARN of the analyzer created here (null when create_analyzer is false)."
  value       = one(aws_accessanalyzer_analyzer.this[*].arn)
}

output "event_rule_arn" {
  description = "ARN of the forwarding EventBridge rule."
  value       = aws_cloudwatch_event_rule.forward.arn
}

output "event_pattern" {
  description = "The forwarding rule's event pattern (the central module's pattern on this Region's analyzers)."
  value       = local.event_pattern
}

output "role_arn" {
  description = "ARN of the IAM role EventBridge assumes to put the events on the central bus (events:PutEvents on it only)."
  value       = aws_iam_role.forward.arn
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue holding events the rule could not put on the central bus."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_url" {
  description = "URL of the forwarding dead-letter queue."
  value       = aws_sqs_queue.dlq.id
}
