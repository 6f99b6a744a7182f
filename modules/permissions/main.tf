# The remediation statements as a policy document: the JSON a member role carries. The root module's Lambda role
# does not use this JSON but the `statements` output, as dynamic blocks of its own document: one source, and its
# document keeps listing every statement (the tests read them there).
data "aws_iam_policy_document" "this" {
  dynamic "statement" {
    for_each = local.statements

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
