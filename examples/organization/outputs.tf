output "lambda_role_arn" {
  description = "ARN of the central Lambda role: the only principal the member roles trust."
  value       = module.central.lambda_role_arn
}

output "analyzer_arns" {
  description = "The analyzers whose findings the central deployment contains."
  value       = module.central.analyzer_arns
}

output "regional_analyzer_arns" {
  description = "The second Region's analyzers forwarded to the central deployment ([] without regional_region)."
  value       = flatten(module.regional[*].analyzer_arns)
}

output "member_role_name" {
  description = "Name of the member role in every account (the central Lambda assumes it by name)."
  value       = local.member_role_name
}

output "member_role_arn_pattern" {
  description = "ARN of the member role in each account of the StackSet's target OUs (`<account>` for the account id); null without a StackSet."
  value       = one(module.member_role_stack_set[*].role_arn_pattern)
}

output "management_account_member_role_arn" {
  description = "ARN of the member role in the management account; null when its resources are not contained."
  value       = one(module.management_account_member_role[*].role_arn)

  precondition {
    condition     = !var.contain_management_account || var.management_account_role_arn != null
    error_message = "contain_management_account needs management_account_role_arn (the management account's member role is created through it)."
  }
}

output "member_account_member_role_arn" {
  description = "ARN of the member role in the account outside the target OUs; null without one."
  value       = one(module.member_account_member_role[*].role_arn)
}

output "lambda_function_name" {
  description = "Name of the central function."
  value       = module.central.lambda_function_name
}

output "sns_topic_arn" {
  description = "The central topic: every containment of every account, with its exact undo."
  value       = module.central.sns_topic_arn
}

output "audit_table_name" {
  description = "The central audit table."
  value       = module.central.audit_table_name
}

output "cli_environment" {
  description = "Shell export lines for the aa-remediate CLI against the central deployment (revert works in member accounts through the member role)."
  value       = module.central.cli_environment
}
