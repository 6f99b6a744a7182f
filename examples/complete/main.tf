provider "aws" {
  region = var.region
}

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

locals {
  kms_key_arn = var.create_kms_key ? aws_kms_key.this[0].arn : null
}

################################################################################
# One customer managed key for the topic, the queues, the audit table and the log group
################################################################################

data "aws_iam_policy_document" "kms" {
  count = var.create_kms_key ? 1 : 0

  #checkov:skip=CKV_AWS_109:Key policy: Resource "*" means this key; the account-root statement is the standard delegation of key access to IAM policies.
  #checkov:skip=CKV_AWS_111:Key policy: Resource "*" means this key; write access is limited to the account (IAM) and to the named service principals.
  #checkov:skip=CKV_AWS_356:Key policy: Resource "*" means this key, not every resource.
  statement {
    sid       = "AccountIamPolicies"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  # Encrypted log group (the Lambda role needs nothing on the key for logging).
  statement {
    sid       = "CloudWatchLogs"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.id}.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.id}:${data.aws_caller_identity.current.account_id}:log-group:/aws/lambda/${var.name}"]
    }
  }

  # EventBridge sends findings (and failed deliveries) to the encrypted queues.
  statement {
    sid       = "EventBridgeToQueues"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
  }

  # CloudWatch alarms publish to the encrypted topic.
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
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_kms_key" "this" {
  count = var.create_kms_key ? 1 : 0

  description             = "${var.name}: SNS topic, SQS queues, DynamoDB audit table, Lambda log group"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy                  = data.aws_iam_policy_document.kms[0].json

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  count = var.create_kms_key ? 1 : 0

  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this[0].key_id
}

################################################################################
# The module, with every input set
################################################################################

module "access_analyzer_remediation" {
  source = "../.."

  name = var.name
  tags = var.tags
  mode = var.mode

  # Access Analyzer and the event rule
  create_analyzer    = var.create_analyzer
  analyzer_type      = "ACCOUNT"
  analyzer_arns      = var.analyzer_arns
  resource_types     = var.resource_types
  event_retry_policy = { maximum_event_age_in_seconds = 86400, maximum_retry_attempts = 185 }

  # Zone of trust and engine settings
  trusted_account_ids     = var.trusted_account_ids
  trusted_organization_id = var.trusted_organization_id
  protected_role_patterns = [
    # The module's defaults (organization, Control Tower, AFT, IAM Identity Center and StackSets roles) ...
    "OrganizationAccountAccessRole", "AWSControlTowerExecution", "aws-controltower-*", "AWSAFT*", "/aws-reserved/*",
    "AWSCloudFormationStackSetExecutionRole", "AWSCloudFormationStackSetAdministrationRole", "stacksets-exec-*",
    # ... plus this account's emergency-access roles.
    "break-glass-*",
  ]
  protected_resource_arns = [] # buckets and keys never modified (exact ARNs), with their type in resource_types
  exemption_tag_key       = "access-analyzer-remediation:exempt"
  allowed_principals      = var.allowed_principals
  trust_policy_max_chars  = 2048
  audit_retention_days    = 365
  lock_lease_seconds      = 60

  # Lambda
  architecture                = "arm64"
  lambda_timeout              = 60
  lambda_memory_size          = 256
  lambda_reserved_concurrency = var.lambda_reserved_concurrency
  lambda_layers               = var.lambda_layers
  powertools_layer_version    = 18
  tracing_enabled             = true
  log_level                   = "INFO"
  metrics_namespace           = "AccessAnalyzerRemediation"
  log_retention_days          = 365
  log_kms_key_arn             = local.kms_key_arn
  permissions_boundary        = var.permissions_boundary

  # Queue and event source mapping
  event_source_mapping = { batch_size = 10, maximum_batching_window_in_seconds = 5, maximum_concurrency = 2 }
  max_receive_count    = 5
  sqs_kms_key_arn      = local.kms_key_arn

  # Notifications
  notification_email             = var.notification_email
  additional_notification_emails = var.additional_notification_emails
  create_sns_kms_key             = !var.create_kms_key # without the example's key, the module makes one for its topic
  sns_kms_key_id                 = local.kms_key_arn
  require_confirmed_subscription = var.require_confirmed_subscription
  confirm_changes                = var.confirm_changes

  # Audit table (deletion protection off so `terraform destroy` works in a test account)
  audit_table_kms_key_arn         = local.kms_key_arn
  audit_table_deletion_protection = false

  # Alarms (on the module's topic: the customer managed key lets CloudWatch publish) and the dashboard
  create_alarms           = true
  alarm_topic_arn         = null
  queue_age_alarm_seconds = 3600
  create_dashboard        = true

  # Scheduled sweep
  enable_sweep              = true
  sweep_schedule_expression = "rate(1 day)"
}
