output "role_arn" {
  description = "ARN of the member role (the central deployment assumes it)."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the member role."
  value       = aws_iam_role.this.name
}

output "permission_statements" {
  description = "The statements of the role's inline policy (modules/permissions' `statements` for this account), for review and for the tests that compare them with the central Lambda role's."
  value       = module.permissions.statements
}
