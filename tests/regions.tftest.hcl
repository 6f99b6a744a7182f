# Several deployments in one account: IAM roles and CloudWatch dashboards are global to the account, so their
# default names carry the Region; every other resource is regional and named after `name`. Two instances in two
# Regions, or two in one Region with different names, never share a name (tests/integration/test_regions.py applies
# examples/multi-region into moto). And analyzers whose events cannot reach the rule are refused at plan.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }

  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333", arn = "arn:aws:iam::111122223333:user/terraform" }
  }

  mock_data "aws_region" {
    defaults = { id = "us-east-1", name = "us-east-1" }
  }

  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

# The second Region of examples/multi-region (same account).
mock_provider "aws" {
  alias = "secondary"

  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }

  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333", arn = "arn:aws:iam::111122223333:user/terraform" }
  }

  mock_data "aws_region" {
    defaults = { id = "eu-west-1", name = "eu-west-1" }
  }

  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  notification_email = "security@example.com"
}

run "us_east_1" {
  command = plan

  assert {
    condition = jsonencode({
      analyzer              = aws_accessanalyzer_analyzer.this[0].analyzer_name
      rule                  = aws_cloudwatch_event_rule.this.name
      queue                 = aws_sqs_queue.this.name
      dlq                   = aws_sqs_queue.dlq.name
      events_dlq            = aws_sqs_queue.events_dlq.name
      table                 = aws_dynamodb_table.audit.name
      function              = aws_lambda_function.this.function_name
      log_group             = aws_cloudwatch_log_group.lambda.name
      topic                 = aws_sns_topic.this.name
      kms_alias             = aws_kms_alias.sns[0].name
      schedule              = aws_scheduler_schedule.sweep[0].name
      alarms                = sort(concat([for a in aws_cloudwatch_metric_alarm.dlq : a.alarm_name], aws_cloudwatch_metric_alarm.lambda_errors[*].alarm_name, aws_cloudwatch_metric_alarm.notification_failed[*].alarm_name, aws_cloudwatch_metric_alarm.queue_age[*].alarm_name))
      lambda_role           = aws_iam_role.lambda.name
      lambda_role_policy    = aws_iam_role_policy.lambda.name
      scheduler_role        = aws_iam_role.scheduler[0].name
      scheduler_role_policy = aws_iam_role_policy.scheduler[0].name
      dashboard             = aws_cloudwatch_dashboard.this[0].dashboard_name
      }) == jsonencode({
      analyzer              = "access-analyzer-remediation"
      rule                  = "access-analyzer-remediation"
      queue                 = "access-analyzer-remediation"
      dlq                   = "access-analyzer-remediation-dlq"
      events_dlq            = "access-analyzer-remediation-events-dlq"
      table                 = "access-analyzer-remediation-audit"
      function              = "access-analyzer-remediation"
      log_group             = "/aws/lambda/access-analyzer-remediation"
      topic                 = "access-analyzer-remediation"
      kms_alias             = "alias/access-analyzer-remediation-sns"
      schedule              = "access-analyzer-remediation-sweep"
      alarms                = ["access-analyzer-remediation-dlq-not-empty", "access-analyzer-remediation-events-dlq-not-empty", "access-analyzer-remediation-lambda-errors", "access-analyzer-remediation-notification-failed", "access-analyzer-remediation-queue-age"]
      lambda_role           = "access-analyzer-remediation-lambda-us-east-1"
      lambda_role_policy    = "access-analyzer-remediation-lambda" # inline: its name is unique per role
      scheduler_role        = "access-analyzer-remediation-scheduler-us-east-1"
      scheduler_role_policy = "access-analyzer-remediation-scheduler"
      dashboard             = "access-analyzer-remediation-us-east-1"
    })
    error_message = "The regional resources are named after name; the IAM roles and the dashboard (global to the account) carry the Region."
  }
}

run "eu_west_1" {
  command = plan

  override_data {
    target = data.aws_region.current
    values = { id = "eu-west-1", name = "eu-west-1" }
  }

  assert {
    condition = (
      aws_iam_role.lambda.name == "access-analyzer-remediation-lambda-eu-west-1"
      && aws_iam_role.scheduler[0].name == "access-analyzer-remediation-scheduler-eu-west-1"
      && aws_cloudwatch_dashboard.this[0].dashboard_name == "access-analyzer-remediation-eu-west-1"
    )
    error_message = "In eu-west-1 the account-global names carry eu-west-1."
  }

  assert {
    condition     = aws_iam_role.lambda.name != run.us_east_1.lambda_role_name && output.lambda_role_name != run.us_east_1.lambda_role_name
    error_message = "The Lambda roles of the two Regions' deployments differ."
  }

  assert {
    condition     = aws_lambda_function.this.function_name == run.us_east_1.lambda_function_name && aws_dynamodb_table.audit.name == run.us_east_1.audit_table_name
    error_message = "Regional resources keep their names in every Region (they cannot collide across Regions)."
  }
}

# Two instances in one Region: `name` sets every name, the global ones included.
run "second_name_in_the_same_region" {
  command = plan

  variables {
    name = "aar-second"
  }

  assert {
    condition = alltrue([for n in [
      aws_accessanalyzer_analyzer.this[0].analyzer_name, aws_cloudwatch_event_rule.this.name, aws_sqs_queue.this.name,
      aws_sqs_queue.dlq.name, aws_sqs_queue.events_dlq.name, aws_dynamodb_table.audit.name,
      aws_lambda_function.this.function_name, trimprefix(aws_cloudwatch_log_group.lambda.name, "/aws/lambda/"),
      aws_sns_topic.this.name, trimprefix(aws_kms_alias.sns[0].name, "alias/"), aws_scheduler_schedule.sweep[0].name,
      aws_iam_role.lambda.name, aws_iam_role.scheduler[0].name, aws_cloudwatch_dashboard.this[0].dashboard_name,
      aws_cloudwatch_metric_alarm.lambda_errors[0].alarm_name, aws_cloudwatch_metric_alarm.notification_failed[0].alarm_name,
      aws_cloudwatch_metric_alarm.queue_age[0].alarm_name, aws_cloudwatch_metric_alarm.dlq["dlq"].alarm_name,
      aws_cloudwatch_metric_alarm.dlq["events-dlq"].alarm_name,
    ] : startswith(n, "aar-second") && !startswith(n, "access-analyzer-remediation")])
    error_message = "Every name starts with the deployment's name."
  }

  assert {
    condition = (
      aws_iam_role.lambda.name == "aar-second-lambda-us-east-1" && aws_iam_role.lambda.name != run.us_east_1.lambda_role_name
      && aws_lambda_function.this.function_name != run.us_east_1.lambda_function_name
      && aws_dynamodb_table.audit.name != run.us_east_1.audit_table_name
      && aws_cloudwatch_event_rule.this.name != run.us_east_1.event_rule_name
      && aws_cloudwatch_log_group.lambda.name != run.us_east_1.lambda_log_group_name
    )
    error_message = "A second name in the same Region shares no name with the first deployment."
  }
}

# The names of a deployment made with 0.2.0, kept (UPGRADING.md): nothing is replaced.
run "kept_role_names" {
  command = plan

  variables {
    lambda_role_name    = "access-analyzer-remediation-lambda"
    scheduler_role_name = "access-analyzer-remediation-scheduler"
  }

  assert {
    condition     = aws_iam_role.lambda.name == "access-analyzer-remediation-lambda" && aws_iam_role.scheduler[0].name == "access-analyzer-remediation-scheduler"
    error_message = "lambda_role_name and scheduler_role_name name the roles."
  }
}

# 44 characters + "-scheduler-us-east-1" is 64: the longest name the defaults take in us-east-1.
run "longest_name_with_the_default_role_names" {
  command = plan

  variables {
    name = "a123456789b123456789c123456789d123456789e123"
  }

  assert {
    condition     = length(aws_iam_role.scheduler[0].name) == 64
    error_message = "The scheduler role's default name is 64 characters long."
  }
}

run "name_too_long_for_the_default_role_names" {
  command = plan

  variables {
    name = "a123456789b123456789c123456789d123456789e1234"
  }

  expect_failures = [aws_iam_role.scheduler]
}

run "name_too_long_for_the_default_role_names_with_role_names" {
  command = plan

  variables {
    name                = "a123456789b123456789c123456789d123456789e1234567"
    lambda_role_name    = "aar-lambda"
    scheduler_role_name = "aar-scheduler"
  }

  assert {
    condition     = aws_iam_role.lambda.name == "aar-lambda" && aws_lambda_function.this.function_name == var.name
    error_message = "Explicit role names lift the limit the Region puts on name."
  }
}

run "role_name_not_an_iam_name" {
  command = plan

  variables {
    lambda_role_name = "has spaces"
  }

  expect_failures = [var.lambda_role_name]
}

run "scheduler_role_name_too_long" {
  command = plan

  variables {
    scheduler_role_name = "a123456789b123456789c123456789d123456789e123456789f123456789g12345"
  }

  expect_failures = [var.scheduler_role_name]
}

################################################################################
# analyzer_arns: only analyzers whose events reach this deployment's rule
################################################################################

# An ORGANIZATION analyzer of this account (the delegated administrator) and Region, and an ACCOUNT analyzer.
run "analyzers_of_this_account_and_region" {
  command = plan

  variables {
    create_analyzer = false
    analyzer_arns = [
      "arn:aws:access-analyzer:us-east-1:111122223333:analyzer/organization",
      "arn:aws:access-analyzer:us-east-1:111122223333:analyzer/account",
    ]
  }

  assert {
    condition     = tolist(jsondecode(local.event_pattern).resources) == var.analyzer_arns
    error_message = "The analyzers of this account and Region are accepted."
  }
}

run "analyzer_of_another_region" {
  command = plan

  variables {
    create_analyzer = false
    analyzer_arns   = ["arn:aws:access-analyzer:eu-west-1:111122223333:analyzer/eu"]
  }

  expect_failures = [aws_cloudwatch_event_rule.this]
}

run "analyzer_of_another_account" {
  command = plan

  variables {
    analyzer_arns = ["arn:aws:access-analyzer:us-east-1:444455556666:analyzer/organization"]
  }

  expect_failures = [aws_cloudwatch_event_rule.this]
}

run "analyzer_of_another_partition" {
  command = plan

  variables {
    create_analyzer = false
    analyzer_arns = [
      "arn:aws:access-analyzer:us-east-1:111122223333:analyzer/ok",
      "arn:aws-us-gov:access-analyzer:us-east-1:111122223333:analyzer/gov",
    ]
  }

  expect_failures = [aws_cloudwatch_event_rule.this]
}

# The error names the analyzers and the deployment's account and Region.
run "analyzer_of_another_region_in_eu_west_1" {
  command = plan

  override_data {
    target = data.aws_region.current
    values = { id = "eu-west-1", name = "eu-west-1" }
  }

  variables {
    analyzer_arns = ["arn:aws:access-analyzer:us-east-1:111122223333:analyzer/access-analyzer-remediation"]
  }

  expect_failures = [aws_cloudwatch_event_rule.this]
}

################################################################################
# examples/multi-region: two instances, one account, two Regions
################################################################################

run "multi_region_example" {
  command = plan

  module {
    source = "./examples/multi-region"
  }

  providers = {
    aws           = aws
    aws.secondary = aws.secondary
  }

  assert {
    condition = output.iam_role_names == {
      us-east-1 = { lambda = "access-analyzer-remediation-lambda-us-east-1", scheduler = "access-analyzer-remediation-scheduler-us-east-1" }
      eu-west-1 = { lambda = "access-analyzer-remediation-lambda-eu-west-1", scheduler = "access-analyzer-remediation-scheduler-eu-west-1" }
    }
    error_message = "Each Region's deployment has its own IAM roles."
  }
}
