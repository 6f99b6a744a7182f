################################################################################
# Lambda execution role: only the calls listed in docs/architecture.md
################################################################################

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    sid     = "LambdaAssume"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name                 = "${var.name}-lambda"
  description          = "Execution role of the ${var.name} Lambda function"
  assume_role_policy   = data.aws_iam_policy_document.lambda_assume.json
  permissions_boundary = var.permissions_boundary

  tags = var.tags
}

data "aws_iam_policy_document" "lambda" {
  # GetFinding (verify an event) and ListFindingsV2 (sweep).
  statement {
    sid       = "ReadFindings"
    actions   = ["access-analyzer:GetFinding", "access-analyzer:ListFindings"]
    resources = local.analyzer_arns
  }

  # Read a role's trust policy and write it back with the Deny added.
  statement {
    sid       = "EditRoleTrustPolicies"
    actions   = ["iam:GetRole", "iam:UpdateAssumeRolePolicy"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/*"]
  }

  # Defence in depth: never the tool's own roles, never service-linked roles.
  statement {
    sid       = "NeverEditOwnOrServiceLinkedRoles"
    effect    = "Deny"
    actions   = ["iam:UpdateAssumeRolePolicy"]
    resources = concat(local.own_role_arns, ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/*"])
  }

  # Per-role lock (PutItem, DeleteItem) and audit records (PutItem; BatchWriteItem = records + unlock in one call).
  statement {
    sid       = "AuditTable"
    actions   = ["dynamodb:PutItem", "dynamodb:BatchWriteItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.audit.arn]
  }

  statement {
    sid       = "PublishDigest"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this.arn]
  }

  # The SQS event source mapping polls with the function's role.
  statement {
    sid       = "ConsumeQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.this.arn]
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda.arn}:*"]
  }

  # X-Ray has no resource-level permissions for these actions.
  dynamic "statement" {
    for_each = var.tracing_enabled ? [1] : []

    content {
      sid       = "XRayTracing"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }

  # Customer managed keys actually in use, each only through its service.
  dynamic "statement" {
    for_each = local.lambda_kms_keys

    content {
      sid       = "KmsVia${title(statement.key)}"
      actions   = statement.key == "sqs" ? ["kms:Decrypt"] : ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["${statement.key}.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "${var.name}-lambda"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}
