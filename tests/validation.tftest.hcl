# Every restricted input rejects a bad value (plans against a mocked provider; nothing is created).

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }

  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }

  mock_data "aws_region" {
    defaults = { id = "us-west-2", name = "us-west-2" }
  }

  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  notification_email = "security@example.com"
  alarm_topic_arn    = "arn:aws:sns:us-west-2:111122223333:ops-alarms" # alarms deliverable whatever the topic's key
}

run "name" {
  command = plan
  variables { name = "has spaces" }
  expect_failures = [var.name]
}

run "name_too_long" {
  command = plan
  variables { name = "a123456789b123456789c123456789d123456789e123456789" }
  expect_failures = [var.name]
}

run "mode" {
  command = plan
  variables { mode = "fix" }
  expect_failures = [var.mode]
}

run "analyzer_type" {
  command = plan
  variables { analyzer_type = "ORGANIZATION_UNUSED_ACCESS" }
  expect_failures = [var.analyzer_type]
}

run "analyzer_arns" {
  command = plan
  variables { analyzer_arns = ["arn:aws:iam::111122223333:role/not-an-analyzer"] }
  expect_failures = [var.analyzer_arns]
}

run "resource_types_unknown" {
  command = plan
  variables { resource_types = ["AWS::IAM::User"] }
  expect_failures = [var.resource_types]
}

run "resource_types_empty" {
  command = plan
  variables { resource_types = [] }
  expect_failures = [var.resource_types]
}

run "trusted_account_ids" {
  command = plan
  variables { trusted_account_ids = ["12345678901"] }
  expect_failures = [var.trusted_account_ids]
}

run "trusted_organization_id" {
  command = plan
  variables { trusted_organization_id = "o-short" }
  expect_failures = [var.trusted_organization_id]
}

run "exemption_tag_key" {
  command = plan
  variables { exemption_tag_key = "aws:reserved" }
  expect_failures = [var.exemption_tag_key]
}

run "allowed_principals" {
  command = plan
  variables { allowed_principals = [" "] }
  expect_failures = [var.allowed_principals]
}

run "trust_policy_max_chars_low" {
  command = plan
  variables { trust_policy_max_chars = 2047 }
  expect_failures = [var.trust_policy_max_chars]
}

run "trust_policy_max_chars_high" {
  command = plan
  variables { trust_policy_max_chars = 10241 }
  expect_failures = [var.trust_policy_max_chars]
}

run "audit_retention_days" {
  command = plan
  variables { audit_retention_days = -1 }
  expect_failures = [var.audit_retention_days]
}

run "lock_lease_seconds" {
  command = plan
  variables { lock_lease_seconds = 901 }
  expect_failures = [var.lock_lease_seconds]
}

run "confirm_changes_delay" {
  command = plan
  variables { confirm_changes = { delay_seconds = 901 } }
  expect_failures = [var.confirm_changes]
}

run "confirm_changes_deadline_before_delay" {
  command = plan
  variables { confirm_changes = { delay_seconds = 600, deadline_seconds = 300 } }
  expect_failures = [var.confirm_changes]
}

run "confirm_changes_deadline_fraction" {
  command = plan
  variables { confirm_changes = { deadline_seconds = 3600.5 } }
  expect_failures = [var.confirm_changes]
}

run "architecture" {
  command = plan
  variables { architecture = "aarch64" }
  expect_failures = [var.architecture]
}

run "lambda_timeout" {
  command = plan
  variables { lambda_timeout = 901 }
  expect_failures = [var.lambda_timeout]
}

run "lambda_memory_size" {
  command = plan
  variables { lambda_memory_size = 64 }
  expect_failures = [var.lambda_memory_size]
}

run "lambda_reserved_concurrency" {
  command = plan
  variables { lambda_reserved_concurrency = 1 }
  expect_failures = [var.lambda_reserved_concurrency]
}

run "lambda_layers" {
  command = plan
  variables { lambda_layers = ["arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64"] }
  expect_failures = [var.lambda_layers]
}

run "log_level" {
  command = plan
  variables { log_level = "TRACE" }
  expect_failures = [var.log_level]
}

run "metrics_namespace" {
  command = plan
  variables { metrics_namespace = "AWS/Lambda" }
  expect_failures = [var.metrics_namespace]
}

run "log_retention_days" {
  command = plan
  variables { log_retention_days = 42 }
  expect_failures = [var.log_retention_days]
}

run "log_kms_key_arn" {
  command = plan
  variables { log_kms_key_arn = "alias/logs" }
  expect_failures = [var.log_kms_key_arn]
}

run "permissions_boundary" {
  command = plan
  variables { permissions_boundary = "arn:aws:iam::111122223333:role/boundary" }
  expect_failures = [var.permissions_boundary]
}

run "maximum_concurrency" {
  command = plan
  variables { event_source_mapping = { maximum_concurrency = 1 } }
  expect_failures = [var.event_source_mapping]
}

run "batch_size_without_window" {
  command = plan
  variables { event_source_mapping = { batch_size = 100, maximum_batching_window_in_seconds = 0 } }
  expect_failures = [var.event_source_mapping]
}

run "event_retry_policy" {
  command = plan
  variables { event_retry_policy = { maximum_retry_attempts = 186 } }
  expect_failures = [var.event_retry_policy]
}

run "max_receive_count" {
  command = plan
  variables { max_receive_count = 0 }
  expect_failures = [var.max_receive_count]
}

run "sqs_kms_key_arn" {
  command = plan
  variables { sqs_kms_key_arn = "alias/aws/sqs" }
  expect_failures = [var.sqs_kms_key_arn]
}

run "notification_email" {
  command = plan
  variables { notification_email = "security.example.com" }
  expect_failures = [var.notification_email]
}

run "additional_notification_emails" {
  command = plan
  variables { additional_notification_emails = ["ok@example.com", "not an address"] }
  expect_failures = [var.additional_notification_emails]
}

run "sns_kms_key_id" {
  command = plan
  variables { sns_kms_key_id = "alias/my-key" }
  expect_failures = [var.sns_kms_key_id]
}

run "audit_table_kms_key_arn" {
  command = plan
  variables { audit_table_kms_key_arn = "arn:aws:kms:us-west-2:111122223333:alias/audit" }
  expect_failures = [var.audit_table_kms_key_arn]
}

run "alarm_topic_arn" {
  command = plan
  variables { alarm_topic_arn = "arn:aws:sqs:us-west-2:111122223333:not-a-topic" }
  expect_failures = [var.alarm_topic_arn]
}

run "sweep_schedule_expression" {
  command = plan
  variables { sweep_schedule_expression = "every day" }
  expect_failures = [var.sweep_schedule_expression]
}

run "powertools_layer_version" {
  command = plan
  variables { powertools_layer_version = 0 }
  expect_failures = [var.powertools_layer_version]
}

run "queue_age_alarm_seconds_low" {
  command = plan
  variables { queue_age_alarm_seconds = 59 }
  expect_failures = [var.queue_age_alarm_seconds]
}

run "queue_age_alarm_seconds_high" {
  command = plan
  variables { queue_age_alarm_seconds = 1209601 }
  expect_failures = [var.queue_age_alarm_seconds]
}

run "queue_age_alarm_seconds_fraction" {
  command = plan
  variables { queue_age_alarm_seconds = 90.5 }
  expect_failures = [var.queue_age_alarm_seconds]
}

run "protected_role_patterns" {
  command = plan
  variables { protected_role_patterns = ["[a-z]*"] }
  expect_failures = [var.protected_role_patterns]
}

run "protected_resource_arns_not_a_contained_type" {
  command = plan
  variables { protected_resource_arns = ["arn:aws:glue:us-west-2:111122223333:database/audit"] }
  expect_failures = [var.protected_resource_arns]
}

run "protected_resource_arns_key_alias" {
  command = plan
  variables { protected_resource_arns = ["arn:aws:kms:us-west-2:111122223333:alias/audit"] }
  expect_failures = [var.protected_resource_arns]
}

run "protected_resource_arns_bucket_objects" {
  command = plan
  variables { protected_resource_arns = ["arn:aws:s3:::audit-logs/*"] }
  expect_failures = [var.protected_resource_arns]
}

run "protected_resource_arns_wildcard" {
  command = plan
  variables { protected_resource_arns = ["arn:aws:s3:::audit-*"] }
  expect_failures = [var.protected_resource_arns]
}

run "protected_resource_arns_bare_name" {
  command = plan
  variables { protected_resource_arns = ["audit-logs"] }
  expect_failures = [var.protected_resource_arns]
}

run "protected_resource_arns_twice" {
  command = plan
  variables { protected_resource_arns = ["arn:aws:s3:::audit-logs", "arn:aws:s3:::audit-logs"] }
  expect_failures = [var.protected_resource_arns]
}

run "member_role_name" {
  command = plan
  variables { member_role_name = "has spaces" }
  expect_failures = [var.member_role_name]
}

run "member_role_external_id" {
  command = plan
  variables { member_role_external_id = "x" }
  expect_failures = [var.member_role_external_id]
}

run "management_account_id" {
  command = plan
  variables { management_account_id = "12345" }
  expect_failures = [var.management_account_id]
}

run "account_modes" {
  command = plan
  variables { account_modes = { "210987654321" = "fix" } }
  expect_failures = [var.account_modes]
}

run "account_modes_account" {
  command = plan
  variables { account_modes = { "2109" = "notify" } }
  expect_failures = [var.account_modes]
}

run "excluded_account_ids" {
  command = plan
  variables { excluded_account_ids = ["12"] }
  expect_failures = [var.excluded_account_ids]
}

# Approve mode and modes per resource type and per account (mode_rules).
run "mode_approve_is_valid" {
  command = plan
  variables {
    mode                   = "approve"
    account_modes          = { "210987654321" = "approve" }
    approval_timeout_hours = 48
    on_timeout             = "apply"
    mode_rules = [
      { mode = "remediate", resource_types = ["AWS::IAM::Role"] },
      { mode = "notify", resource_types = ["AWS::S3::Bucket"], account_ids = ["210987654321"] },
    ]
  }
}

run "mode_rules_mode" {
  command = plan
  variables { mode_rules = [{ mode = "later", resource_types = ["AWS::KMS::Key"] }] }
  expect_failures = [var.mode_rules]
}

run "mode_rules_match_something" {
  command = plan
  variables { mode_rules = [{ mode = "notify" }] }
  expect_failures = [var.mode_rules]
}

run "mode_rules_resource_type" {
  command = plan
  variables { mode_rules = [{ mode = "notify", resource_types = ["KMS"] }] }
  expect_failures = [var.mode_rules]
}

run "mode_rules_empty_list" {
  command = plan
  variables { mode_rules = [{ mode = "notify", account_ids = [] }] }
  expect_failures = [var.mode_rules]
}

run "mode_rules_account" {
  command = plan
  variables { mode_rules = [{ mode = "approve", account_ids = ["2109"] }] }
  expect_failures = [var.mode_rules]
}

run "approval_timeout_hours_zero" {
  command = plan
  variables { approval_timeout_hours = 0 }
  expect_failures = [var.approval_timeout_hours]
}

run "approval_timeout_hours_fraction" {
  command = plan
  variables { approval_timeout_hours = 1.5 }
  expect_failures = [var.approval_timeout_hours]
}

run "on_timeout" {
  command = plan
  variables { on_timeout = "ignore" }
  expect_failures = [var.on_timeout]
}
