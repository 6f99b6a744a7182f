################################################################################
# EventBridge rule: ACTIVE external-access findings of the selected resource types from the analyzers in use
################################################################################

resource "aws_cloudwatch_event_rule" "this" {
  name          = var.name
  description   = "ACTIVE Access Analyzer external-access findings for ${join(", ", var.resource_types)} -> ${var.name} queue"
  event_pattern = local.event_pattern

  tags = var.tags

  lifecycle {
    precondition {
      condition     = length(local.analyzer_arns) > 0
      error_message = "No analyzer in use: set create_analyzer = true or pass analyzer_arns."
    }
    precondition {
      condition     = length(local.foreign_analyzer_arns) == 0
      error_message = "analyzer_arns must be analyzers of this deployment's account ${local.account_id} and Region ${local.region} (partition ${local.partition}): Access Analyzer puts an analyzer's events on the default event bus of its own account and Region only (an ORGANIZATION analyzer's in the delegated administrator's account), so this rule never receives the events of ${join(", ", local.foreign_analyzer_arns)}. Deploy the module in that account and Region (a provider for each), or, for another Region of this account, modules/regional there and the analyzer in regional_analyzer_arns."
    }
    precondition {
      condition     = length(local.foreign_regional_analyzer_arns) == 0
      error_message = "regional_analyzer_arns must be analyzers of this account ${local.account_id} (partition ${local.partition}) in Regions other than ${local.region}: modules/regional forwards an analyzer's events to the default bus of the same account only, and an analyzer of this Region belongs in analyzer_arns. Not forwardable here: ${join(", ", local.foreign_regional_analyzer_arns)}."
    }
  }
}

resource "aws_cloudwatch_event_target" "this" {
  rule      = aws_cloudwatch_event_rule.this.name
  target_id = "sqs"
  arn       = aws_sqs_queue.this.arn

  retry_policy {
    maximum_event_age_in_seconds = var.event_retry_policy.maximum_event_age_in_seconds
    maximum_retry_attempts       = var.event_retry_policy.maximum_retry_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.events_dlq.arn
  }

  depends_on = [aws_sqs_queue_policy.this]
}

################################################################################
# Queues: the rule's target, its redrive dead-letter queue, and the rule target's dead-letter queue
################################################################################

resource "aws_sqs_queue" "this" {
  name                       = var.name
  visibility_timeout_seconds = local.queue_visibility_timeout
  message_retention_seconds  = local.queue_message_retention_seconds
  receive_wait_time_seconds  = 20

  sqs_managed_sse_enabled = var.sqs_kms_key_arn == null ? true : null
  kms_master_key_id       = var.sqs_kms_key_arn

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags
}

# Messages the Lambda failed to process max_receive_count times.
resource "aws_sqs_queue" "dlq" {
  name                      = "${var.name}-dlq"
  message_retention_seconds = 1209600 # 14 days

  sqs_managed_sse_enabled = var.sqs_kms_key_arn == null ? true : null
  kms_master_key_id       = var.sqs_kms_key_arn

  tags = var.tags
}

# Events EventBridge could not deliver to the queue (target DeadLetterConfig).
resource "aws_sqs_queue" "events_dlq" {
  name                      = "${var.name}-events-dlq"
  message_retention_seconds = 1209600 # 14 days

  sqs_managed_sse_enabled = var.sqs_kms_key_arn == null ? true : null
  kms_master_key_id       = var.sqs_kms_key_arn

  tags = var.tags
}

# The main queue and the events DLQ: only the rule may send (the events DLQ receives the rule target's failed
# deliveries); the main queue also takes the sweep's finding references from the Lambda role.
data "aws_iam_policy_document" "queue" {
  for_each = {
    queue      = local.queue_arn
    events_dlq = local.events_dlq_arn
  }

  statement {
    sid       = "AllowThisRuleOnly"
    actions   = ["sqs:SendMessage"]
    resources = [each.value]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.this.arn]
    }
  }

  # Main queue only: nobody but the rule and the Lambda role (the sweep's finding references) may send, not even a
  # principal of this account whose IAM policy allows sqs:SendMessage: a forged message would still be re-read with
  # GetFinding, but it could flood the queue or push real findings to the dead-letter queue. The Deny applies only
  # when BOTH conditions hold (keys of one operator are ANDed): the caller is not the rule (aws:SourceArn, which
  # EventBridge sets when it sends on the rule's behalf) AND not the Lambda role (aws:PrincipalArn is the role ARN
  # for all its sessions). ...IfExists makes a missing key count as "not equal": an IAM principal (no SourceArn) or
  # an anonymous caller (neither key) is denied unless it is the Lambda role.
  # Dependencies: this document needs the Lambda role's ARN; the role and its policy need only the queue's ARN, not
  # this policy, so there is no cycle.
  dynamic "statement" {
    for_each = each.key == "queue" ? [1] : []

    content {
      sid       = "DenySendExceptRuleAndLambda"
      effect    = "Deny"
      actions   = ["sqs:SendMessage"]
      resources = [each.value]

      principals {
        type        = "*"
        identifiers = ["*"]
      }

      condition {
        test     = "ArnNotEqualsIfExists"
        variable = "aws:SourceArn"
        values   = [aws_cloudwatch_event_rule.this.arn]
      }

      condition {
        test     = "ArnNotEqualsIfExists"
        variable = "aws:PrincipalArn"
        values   = [aws_iam_role.lambda.arn]
      }
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [each.value]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "this" {
  queue_url = aws_sqs_queue.this.id
  policy    = data.aws_iam_policy_document.queue["queue"].json
}

resource "aws_sqs_queue_policy" "events_dlq" {
  queue_url = aws_sqs_queue.events_dlq.id
  policy    = data.aws_iam_policy_document.queue["events_dlq"].json
}
