# The same remediation statements as the central Lambda role (modules/permissions), for this account: one source,
# so the two roles cannot drift. The role is its own "own role": denied iam:UpdateAssumeRolePolicy like a protected
# role, and every other IAM write on itself (NeverEditItself).
module "permissions" {
  source = "../permissions"

  resource_types          = var.resource_types
  partition               = local.partition
  account_id              = local.account_id
  protected_role_patterns = var.protected_role_patterns
  protected_resource_arns = var.protected_resource_arns
  own_resource_arns       = { roles = [local.role_arn] }
  self_role_arn           = local.role_arn
}

data "aws_iam_policy_document" "permissions" {
  dynamic "statement" {
    for_each = module.permissions.statements

    content {
      sid       = statement.value.sid
      effect    = statement.value.effect
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = statement.value.conditions

        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}
