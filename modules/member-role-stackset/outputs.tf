output "stack_set_name" {
  description = "Name of the stack set."
  value       = aws_cloudformation_stack_set.this.name
}

output "stack_set_id" {
  description = "Id of the stack set."
  value       = aws_cloudformation_stack_set.this.stack_set_id
}

output "role_name" {
  description = "Name of the member role in every target account."
  value       = var.name
}

output "role_arn_pattern" {
  description = "ARN of the member role with `<account>` for the member account id (the management account is not covered: apply modules/member-role there)."
  value       = "arn:${data.aws_partition.current.partition}:iam::<account>:role${var.path}${var.name}"
}

output "template_body" {
  description = "The CloudFormation template (JSON) the stack set deploys."
  value       = local.template_body
}
