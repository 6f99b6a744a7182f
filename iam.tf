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
  # GetFinding (verify an event or a sweep's finding reference) and ListFindingsV2 (the sweep).
  statement {
    sid       = "ReadFindings"
    actions   = ["access-analyzer:GetFinding", "access-analyzer:ListFindings"]
    resources = local.analyzer_arns
  }

  # Read a role's trust policy and write it back with the Deny added. Any role of the account can be the subject
  # of a finding; the Deny below takes out the ones that must never change.
  statement {
    sid       = "EditRoleTrustPolicies"
    actions   = ["iam:GetRole", "iam:UpdateAssumeRolePolicy"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/*"]
  }

  # Defence in depth: even a bug in the Lambda's guardrails cannot edit the tool's own roles, service-linked roles
  # (IAM refuses anyway) or a protected role (denying the management account's access to these would lock the
  # organization out). An explicit Deny wins over the Allow above.
  statement {
    sid     = "NeverEditProtectedRoles"
    effect  = "Deny"
    actions = ["iam:UpdateAssumeRolePolicy"]
    resources = distinct(concat(
      local.own_role_arns,
      ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/*"],
      local.protected_role_arns,
    ))
  }

  # S3 buckets and KMS keys, only for the types in resource_types (the calls of resources/s3_bucket.py and
  # resources/kms_key.py; tests/terraform/test_contract.py ties each action to a call there).
  # A bucket policy: GetBucketPolicy and PutBucketPolicy (the Deny), DeleteBucketPolicy (a revert that would leave an
  # empty policy, which S3 refuses to store), GetBucketTagging (the exemption tag). A bucket ARN names no account:
  # s3:ResourceAccount keeps the statement to the buckets of this account.
  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::S3::Bucket") ? [1] : []

    content {
      sid = "EditBucketPolicies"
      actions = [
        "s3:GetBucketPolicy",
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
        "s3:GetBucketTagging",
        "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        "s3:GetBucketAcl",
        "s3:PutBucketAcl",
      ]
      resources = ["arn:${local.partition}:s3:::*"]

      condition {
        test     = "StringEquals"
        variable = "s3:ResourceAccount"
        values   = [local.account_id]
      }
    }
  }

  # Defence in depth, as for roles: never the deployment's own buckets (none today) or a protected bucket.
  dynamic "statement" {
    for_each = (
      contains(var.resource_types, "AWS::S3::Bucket")
      && length(concat(local.own_bucket_arns, local.protected_bucket_arns)) > 0
    ) ? [1] : []

    content {
      sid       = "NeverEditProtectedBuckets"
      effect    = "Deny"
      actions   = ["s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketPublicAccessBlock", "s3:PutBucketAcl"]
      resources = distinct(concat(local.own_bucket_arns, local.protected_bucket_arns))
    }
  }

  # A key policy: DescribeKey (KeyManager: AWS managed keys are only reported; key state, multi-Region), GetKeyPolicy
  # and PutKeyPolicy (the Deny), ListResourceTags (the exemption tag), ListGrants (access a grant gives).
  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::KMS::Key") ? [1] : []

    content {
      sid = "EditKeyPolicies"
      actions = [
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
        "kms:PutKeyPolicy",
        "kms:ListResourceTags",
        "kms:ListGrants",
        "kms:RevokeGrant",
      ]
      resources = ["arn:${local.partition}:kms:*:${local.account_id}:key/*"]
    }
  }

  # Defence in depth: never the deployment's own keys (a changed topic key policy could silence the digests and the
  # alarms) or a protected key.
  dynamic "statement" {
    for_each = (
      contains(var.resource_types, "AWS::KMS::Key")
      && length(concat(local.own_kms_key_arns, local.protected_kms_key_arns)) > 0
    ) ? [1] : []

    content {
      sid       = "NeverEditProtectedKeys"
      effect    = "Deny"
      actions   = ["kms:PutKeyPolicy", "kms:RevokeGrant"]
      resources = distinct(concat(local.own_kms_key_arns, local.protected_kms_key_arns))
    }
  }

  # The audit table: GetItem (state of a resource whose finding is no longer ACTIVE; the records of an outbox item),
  # UpdateItem (lease + intent, commit + release, outbox abandoned, subscription note), BatchWriteItem (audit records
  # and outbox items; outbox deletes), Query (the outbox). The table has no index: the table ARN is the resource.
  statement {
    sid = "AuditTable"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:UpdateItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:Query",
    ]
    resources = [local.table_arn]
  }

  # The digest e-mails.
  statement {
    sid       = "PublishDigest"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this.arn]
  }

  # Subscription safety: until the topic has a confirmed subscription the Lambda only reports
  # (require_confirmed_subscription), so it must be able to see the topic's subscriptions.
  statement {
    sid       = "CheckSubscriptions"
    actions   = ["sns:ListSubscriptionsByTopic"]
    resources = [aws_sns_topic.this.arn]
  }

  # The SQS event source mapping polls with the function's role.
  statement {
    sid       = "ConsumeQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [local.queue_arn]
  }

  # The sweep puts a reference to each ACTIVE finding on the same queue (SendMessageBatch needs sqs:SendMessage);
  # the queue policy lets no one else but the rule send.
  statement {
    sid       = "EnqueueSweptFindings"
    actions   = ["sqs:SendMessage"]
    resources = [local.queue_arn]
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

  # Customer managed keys actually in use, each only through its service. Every service needs both actions:
  # GenerateDataKey to write (SNS Publish, the sweep's SQS SendMessage, DynamoDB writes) and Decrypt to read
  # (the polled SQS messages, DynamoDB reads, SNS's data key).
  dynamic "statement" {
    for_each = local.lambda_kms_keys

    content {
      sid       = "KmsVia${title(statement.key)}"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
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

  lifecycle {
    # Every protected pattern adds up to two ARNs to the Deny, every protected resource one: a long list could exceed
    # IAM's 10,240-character quota for a role's inline policies (whitespace not counted). Checked at apply when the
    # ARNs are known.
    precondition {
      condition     = length(replace(data.aws_iam_policy_document.lambda.json, "/\\s+/", "")) <= 10240
      error_message = "The Lambda role's policy exceeds IAM's 10,240-character inline policy quota: shorten protected_role_patterns (each adds up to two ARNs to the Deny statement) or protected_resource_arns (each adds one)."
    }
  }
}
