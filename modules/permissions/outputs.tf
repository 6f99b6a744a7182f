output "statements" {
  description = "The remediation statements, in policy order: objects with `sid`, `effect`, `actions`, `resources` and `conditions` (a list of `test`, `variable`, `values`). For `dynamic \"statement\"` blocks of another aws_iam_policy_document (the root module's Lambda role) or a CloudFormation template (modules/member-role-stackset)."
  value       = local.statements
}

output "json" {
  description = "The remediation statements as an IAM policy document (JSON)."
  value       = data.aws_iam_policy_document.this.json
}

output "protected_role_arns" {
  description = "protected_role_patterns as the role ARNs of the NeverEditProtectedRoles Deny (role/P and role/*/P per name pattern)."
  value       = local.protected_role_arns
}
