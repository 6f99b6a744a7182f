output "analyzer_arns" {
  description = "Every analyzer whose findings the central Lambda contains: the home Region's, then the forwarded ones."
  value       = module.central.analyzer_arns
}

output "regional_analyzer_arns" {
  description = "The analyzers of the second Region whose findings are forwarded to the home Region."
  value       = module.regional.analyzer_arns
}

output "forwarding_rule_arn" {
  description = "ARN of the second Region's forwarding rule."
  value       = module.regional.event_rule_arn
}

output "forwarding_role_arn" {
  description = "ARN of the role the forwarding rule puts the events on the home bus with."
  value       = module.regional.role_arn
}

output "event_rule_arn" {
  description = "ARN of the central rule (home Region), which matches the forwarded events too."
  value       = module.central.event_rule_arn
}

output "cli_environment" {
  description = "Shell export lines for the aa-remediate CLI (one deployment serves both Regions)."
  value       = module.central.cli_environment
}

output "event_patterns" {
  description = "The central rule's and the forwarding rule's event patterns: the same pattern, each on its Region's analyzers."
  value = {
    central    = module.central.event_pattern
    forwarding = module.regional.event_pattern
  }
}

output "lambda_function_name" {
  description = "Name of the central Lambda function (it contains the findings of both Regions)."
  value       = module.central.lambda_function_name
}

output "sns_topic_arn" {
  description = "ARN of the central SNS topic (the digests of both Regions)."
  value       = module.central.sns_topic_arn
}

output "audit_table_name" {
  description = "Name of the central audit table (the records of both Regions)."
  value       = module.central.audit_table_name
}
