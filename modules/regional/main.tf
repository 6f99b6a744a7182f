################################################################################
# Forward this Region's Access Analyzer findings to the central deployment's Region
#
# Access Analyzer puts an analyzer's events on the default event bus of its own account and Region only. This module
# runs in every extra Region of the central (delegated administrator) account: a rule with the central rule's pattern
# sends this Region's finding events, unchanged (`region` stays this Region, `resources[0]` this Region's analyzer),
# to the central Region's default bus, where the central module's rule matches them (its `regional_analyzer_arns`).
################################################################################

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

resource "aws_accessanalyzer_analyzer" "this" {
  count = var.create_analyzer ? 1 : 0

  analyzer_name = coalesce(var.analyzer_name, var.name)
  type          = var.analyzer_type

  tags = var.tags
}

resource "aws_cloudwatch_event_rule" "forward" {
  name          = local.rule_name
  description   = "ACTIVE Access Analyzer external-access findings for ${join(", ", var.resource_types)} -> ${var.central_event_bus_arn}"
  event_pattern = local.event_pattern

  tags = var.tags

  lifecycle {
    precondition {
      condition     = length(local.analyzer_arns) > 0
      error_message = "No analyzer to forward: set create_analyzer = true or pass analyzer_arns."
    }
    precondition {
      condition     = length(local.foreign_analyzer_arns) == 0
      error_message = "analyzer_arns must be analyzers of this account ${local.account_id} and Region ${local.region} (partition ${local.partition}): Access Analyzer puts an analyzer's events on the default event bus of its own account and Region only, so this rule never receives the events of ${join(", ", local.foreign_analyzer_arns)}. Deploy modules/regional in that Region (a provider for it) instead."
    }
    precondition {
      condition     = local.bus_partition == local.partition && local.bus_account_id == local.account_id
      error_message = "central_event_bus_arn ${var.central_event_bus_arn} must be a bus of this account ${local.account_id} (partition ${local.partition}): modules/regional forwards to the central deployment in the same account; the central module accepts forwarded findings of its own account's analyzers only."
    }
    precondition {
      condition     = local.bus_region != local.region
      error_message = "central_event_bus_arn ${var.central_event_bus_arn} is in this Region ${local.region}: a rule cannot forward to its own bus. Deploy the central module here instead, or pass the bus of the central deployment's (home) Region."
    }
  }
}

resource "aws_cloudwatch_event_target" "forward" {
  rule      = aws_cloudwatch_event_rule.forward.name
  target_id = "central-event-bus"
  arn       = var.central_event_bus_arn
  role_arn  = aws_iam_role.forward.arn

  retry_policy {
    maximum_event_age_in_seconds = var.event_retry_policy.maximum_event_age_in_seconds
    maximum_retry_attempts       = var.event_retry_policy.maximum_retry_attempts
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq.arn
  }

  depends_on = [aws_sqs_queue_policy.dlq, aws_iam_role_policy.forward]
}

################################################################################
# The role EventBridge assumes to put the events on the central bus: events:PutEvents on that bus only
################################################################################

data "aws_iam_policy_document" "trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    # Only this account's rules (the forwarding rule) may assume the role. Built from the name: the rule's ARN is not
    # needed before the role exists, so there is no cycle.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.rule_arn]
    }
  }
}

resource "aws_iam_role" "forward" {
  name               = local.role_name
  description        = "EventBridge: forwards ${local.region} Access Analyzer findings to ${var.central_event_bus_arn}"
  assume_role_policy = data.aws_iam_policy_document.trust.json

  tags = var.tags
}

data "aws_iam_policy_document" "forward" {
  statement {
    sid       = "PutEventsOnTheCentralBus"
    actions   = ["events:PutEvents"]
    resources = [var.central_event_bus_arn]
  }
}

resource "aws_iam_role_policy" "forward" {
  name   = "forward-to-central-bus"
  role   = aws_iam_role.forward.id
  policy = data.aws_iam_policy_document.forward.json
}

################################################################################
# Dead-letter queue: events EventBridge could not put on the central bus (after the retry policy)
################################################################################

resource "aws_sqs_queue" "dlq" {
  name                      = local.dlq_name
  message_retention_seconds = 1209600 # 14 days

  sqs_managed_sse_enabled = var.sqs_kms_key_arn == null ? true : null
  kms_master_key_id       = var.sqs_kms_key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "dlq" {
  statement {
    sid       = "AllowThisRuleOnly"
    actions   = ["sqs:SendMessage"]
    resources = [local.dlq_arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.forward.arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [local.dlq_arn]

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

resource "aws_sqs_queue_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  policy    = data.aws_iam_policy_document.dlq.json
}
