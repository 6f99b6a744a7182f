# Only the central Lambda role may assume this role: one exact role ARN as principal (never the account root, which
# would let any principal of the central account that is allowed sts:AssumeRole in), optionally also bound to the
# organization and to an ExternalId.
data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "CentralLambdaRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [var.central_role_arn]
    }

    dynamic "condition" {
      for_each = var.organization_id == null ? [] : [var.organization_id]

      content {
        test     = "StringEquals"
        variable = "aws:PrincipalOrgID"
        values   = [condition.value]
      }
    }

    dynamic "condition" {
      for_each = var.external_id == null ? [] : [var.external_id]

      content {
        test     = "StringEquals"
        variable = "sts:ExternalId"
        values   = [condition.value]
      }
    }
  }
}
