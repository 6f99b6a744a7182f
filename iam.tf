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
  name                 = local.lambda_role_name
  description          = "Execution role of the ${var.name} Lambda function"
  assume_role_policy   = data.aws_iam_policy_document.lambda_assume.json
  permissions_boundary = var.permissions_boundary

  tags = var.tags

  lifecycle {
    # A renamed role (the 0.2.0 name to the Region-qualified default, UPGRADING.md) is created, and its policy
    # attached (aws_iam_role_policy.lambda below), before the function switches to it; the old role and its policy
    # are deleted after that.
    create_before_destroy = true

    precondition {
      condition     = length(local.lambda_role_name) <= 64
      error_message = "The Lambda role's name \"${local.lambda_role_name}\" is longer than IAM's 64 characters: shorten name or set lambda_role_name."
    }
  }
}

# The remediation statements for this account. The own resources are built from names where locals.tf can (see
# there): a policy that reads a resource with a pending change would show as "(known after apply)" at every plan.
module "permissions" {
  source = "./modules/permissions"

  resource_types          = var.resource_types
  partition               = local.partition
  account_id              = local.account_id
  protected_role_patterns = var.protected_role_patterns
  protected_resource_arns = var.protected_resource_arns
  own_resource_arns = {
    roles     = local.own_role_arns
    kms_keys  = local.own_kms_key_arns
    buckets   = local.own_bucket_arns
    queues    = local.own_queue_arns
    topics    = local.own_topic_arns
    tables    = local.own_table_arns
    functions = local.own_function_arns
  }
}

data "aws_iam_policy_document" "lambda" {
  # GetFinding (verify an event or a sweep's finding reference) and ListFindingsV2 (the sweep).
  statement {
    sid       = "ReadFindings"
    actions   = ["access-analyzer:GetFinding", "access-analyzer:ListFindings"]
    resources = local.analyzer_arns
  }

  # Confirm after writing (confirmation.py `_scan`): an immediate re-analysis of the contained resource. The delayed
  # check is a SendMessage to the function's own queue (EnqueueSweptFindings) and a GetFinding (ReadFindings).
  dynamic "statement" {
    for_each = var.confirm_changes.enabled ? ["ConfirmChanges"] : []

    content {
      sid       = statement.value
      actions   = ["access-analyzer:StartResourceScan"]
      resources = local.analyzer_arns
    }
  }

  # A verdict is written once (confirmation.py `_conclude`, AuditStore.write_once): its records and notice are Puts
  # in one TransactWriteItems with the pending check's conditional Update. IAM checks each of a transaction's
  # actions as its own call: the Update is AuditTable's UpdateItem, the Puts need PutItem.
  dynamic "statement" {
    for_each = var.confirm_changes.enabled ? ["RecordConfirmations"] : []

    content {
      sid       = statement.value
      actions   = ["dynamodb:PutItem"]
      resources = [local.table_arn]
    }
  }

  # What touches the resources of the account (roles' trust policies, and the buckets, keys, queues, ... of
  # resource_types, each with its explicit Denies): modules/permissions, the one source a member role
  # (modules/member-role, modules/member-role-stackset) shares, so the two can never drift apart.
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

  # The audit table: GetItem (state of a resource whose finding is no longer ACTIVE; the records of an outbox item),
  # UpdateItem (lease + intent, commit + release, outbox abandoned, subscription note), BatchWriteItem (audit records
  # and outbox items; outbox deletes), Query (the outbox). Approve mode (approval.py) uses the same: GetItem,
  # UpdateItem (a request created once, marked stored, settled) and Query (the requests past their deadline).
  # The table has no index: the table ARN is the resource.
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

  # The sweep puts a reference to each ACTIVE finding on the same queue (SendMessageBatch needs sqs:SendMessage), and
  # a written containment its delayed confirmation (SendMessage); the queue policy lets no one else but the rule send.
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

  # Organization mode: the member role of any account (members.py assumes it in the account of a finding's resource),
  # by name only: the member role's trust policy names this role, and aws:PrincipalOrgID / sts:ExternalId there.
  dynamic "statement" {
    for_each = var.member_role_name == null ? [] : [var.member_role_name]

    content {
      sid       = "AssumeMemberRole"
      actions   = ["sts:AssumeRole"]
      resources = ["arn:${local.partition}:iam::*:role/${statement.value}"]
    }
  }

  # Prove before writing (proofs.py, prove_changes): Access Analyzer's policy checks read no resource and have no
  # resource-level permissions.
  dynamic "statement" {
    for_each = var.prove_changes ? [1] : []

    content {
      sid       = "ProveChanges"
      actions   = ["access-analyzer:ValidatePolicy", "access-analyzer:CheckNoNewAccess", "access-analyzer:CheckNoPublicAccess"]
      resources = ["*"]
    }
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
    # With the role's (a renamed role): the new role's policy exists before the function switches to it, and the
    # old role keeps its policy until the function has left it.
    create_before_destroy = true

    # Every protected pattern adds up to two ARNs to the Deny, every protected resource one: a long list could exceed
    # IAM's 10,240-character quota for a role's inline policies (whitespace not counted). Checked at apply when the
    # ARNs are known.
    precondition {
      condition     = length(replace(data.aws_iam_policy_document.lambda.json, "/\\s+/", "")) <= 10240
      error_message = "The Lambda role's policy exceeds IAM's 10,240-character inline policy quota: shorten protected_role_patterns (each adds up to two ARNs to the Deny statement) or protected_resource_arns (each adds one)."
    }
  }
}
