resource "aws_sns_topic" "this" {
  name              = var.name
  display_name      = "Access Analyzer remediation"
  kms_master_key_id = local.sns_kms_key_id

  tags = var.tags

  lifecycle {
    # CloudWatch cannot use the AWS managed SNS key: alarms notifying a topic encrypted with it are never delivered,
    # and nothing would say so. An error at plan time, not a warning that scrolls past.
    precondition {
      condition     = !var.create_alarms || var.alarm_topic_arn != null || local.sns_uses_customer_key
      error_message = "The alarms would notify this module's topic, encrypted with the AWS managed key alias/aws/sns, to which CloudWatch cannot publish: they could never be delivered. Keep create_sns_kms_key = true (the default: the module creates a key CloudWatch may use), or set sns_kms_key_id to a customer managed key whose policy allows cloudwatch.amazonaws.com, or set alarm_topic_arn to a topic CloudWatch can publish to, or set create_alarms = false."
    }
  }
}

data "aws_iam_policy_document" "topic" {
  # Principals of this account, as far as their IAM policies allow (the Lambda role has sns:Publish).
  statement {
    sid = "AccountOwner"
    actions = [
      "sns:GetTopicAttributes",
      "sns:SetTopicAttributes",
      "sns:AddPermission",
      "sns:RemovePermission",
      "sns:DeleteTopic",
      "sns:Subscribe",
      "sns:ListSubscriptionsByTopic",
      "sns:Publish",
    ]
    resources = [aws_sns_topic.this.arn]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # The module's CloudWatch alarms.
  statement {
    sid       = "CloudWatchAlarms"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${var.name}-*"]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this.arn]

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

resource "aws_sns_topic_policy" "this" {
  arn    = aws_sns_topic.this.arn
  policy = data.aws_iam_policy_document.topic.json
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(concat([var.notification_email], var.additional_notification_emails))

  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = each.value
}

# The topic's own key (default): CloudWatch cannot use the AWS managed SNS key, so without a customer managed
# key the module's alarms would never be delivered.
data "aws_iam_policy_document" "sns_key" {
  count = var.create_sns_kms_key ? 1 : 0

  #checkov:skip=CKV_AWS_109:Key policy: Resource "*" means this key; the account-root statement is the standard delegation of key access to IAM policies.
  #checkov:skip=CKV_AWS_111:Key policy: Resource "*" means this key; write access is limited to the account (IAM) and to CloudWatch of this account.
  #checkov:skip=CKV_AWS_356:Key policy: Resource "*" means this key, not every resource.
  statement {
    sid       = "AccountIamPolicies"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsToTopic"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "sns" {
  count = var.create_sns_kms_key ? 1 : 0

  description             = "${var.name}: SNS topic of the Access Analyzer remediation notices"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.sns_key[0].json

  tags = var.tags
}

resource "aws_kms_alias" "sns" {
  count = var.create_sns_kms_key ? 1 : 0

  name          = "alias/${var.name}-sns"
  target_key_id = aws_kms_key.sns[0].key_id
}

# An ignored input is worth a warning: the topic still gets a key CloudWatch can use (the module's own).
check "sns_kms_key_inputs" {
  assert {
    condition     = !var.create_sns_kms_key || var.sns_kms_key_id == null
    error_message = "sns_kms_key_id is ignored while create_sns_kms_key is true: set create_sns_kms_key = false to use it."
  }
}
