output "member_role_arn_pattern" {
  description = "ARN of the member role in each target account (`<account>` for the account id)."
  value       = module.member_role_stack_set.role_arn_pattern
}

output "management_account_member_role_arn" {
  description = "ARN of the member role in the management account."
  value       = module.management_account_member_role.role_arn
}
