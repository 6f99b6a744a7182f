output "lambda_function_name" {
  description = "Name of the Lambda function."
  value       = module.access_analyzer_remediation.lambda_function_name
}

output "sns_topic_arn" {
  description = "ARN of the SNS topic receiving the digests."
  value       = module.access_analyzer_remediation.sns_topic_arn
}

output "audit_table_name" {
  description = "Name of the DynamoDB audit table."
  value       = module.access_analyzer_remediation.audit_table_name
}

output "cli_environment" {
  description = "Shell export lines for the aa-remediate CLI."
  value       = module.access_analyzer_remediation.cli_environment
}
