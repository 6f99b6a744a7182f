# regional_analyzer_arns: analyzers of other Regions of this account whose findings modules/regional forwards to this
# deployment's default bus. The rule matches them, the Lambda's analyzer list and the IAM grants include them, and the
# plan still refuses what can never arrive (another account or partition; this Region's analyzers belong in
# analyzer_arns). examples/regional wires modules/regional (eu-west-1) to the central module (us-east-1);
# tests/integration/test_regional.py applies it into moto.

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

  # Computed attributes with realistic values, as in tests/module.tftest.hcl (an apply validates the ARNs).
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::111122223333:role/access-analyzer-remediation-lambda-us-east-1" }
  }

  mock_resource "aws_accessanalyzer_analyzer" {
    override_during = plan
    defaults        = { arn = "arn:aws:access-analyzer:us-east-1:111122223333:analyzer/access-analyzer-remediation" }
  }

  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:us-east-1:111122223333:key/55555555-5555-5555-5555-555555555555" }
  }

  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-east-1:111122223333:access-analyzer-remediation" }
  }

  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:us-east-1:111122223333:table/access-analyzer-remediation-audit" }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-east-1:111122223333:log-group:/aws/lambda/access-analyzer-remediation" }
  }

  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:us-east-1:111122223333:rule/access-analyzer-remediation" }
  }

  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:us-east-1:111122223333:function:access-analyzer-remediation" }
  }

  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:us-east-1:111122223333:access-analyzer-remediation"
      url = "https://sqs.us-east-1.amazonaws.com/111122223333/access-analyzer-remediation"
    }
  }

  override_resource {
    target = aws_iam_role.lambda
    values = { arn = "arn:aws:iam::111122223333:role/access-analyzer-remediation-lambda-us-east-1" }
  }

  override_resource {
    target = aws_iam_role.scheduler
    values = { arn = "arn:aws:iam::111122223333:role/access-analyzer-remediation-scheduler-us-east-1" }
  }
}

mock_provider "aws" {
  alias = "regional"

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

  # Known at plan: the example's patterns are compared in a plan (an applied example could not be torn down: its
  # audit table's destroy guard stops the destroy).
  mock_resource "aws_accessanalyzer_analyzer" {
    override_during = plan
    defaults        = { arn = "arn:aws:access-analyzer:eu-west-1:111122223333:analyzer/access-analyzer-remediation" }
  }

  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::111122223333:role/access-analyzer-remediation-forward-eu-west-1" }
  }

  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:eu-west-1:111122223333:rule/access-analyzer-remediation-forward" }
  }

  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:eu-west-1:111122223333:access-analyzer-remediation-forward-dlq"
      id  = "https://sqs.eu-west-1.amazonaws.com/111122223333/access-analyzer-remediation-forward-dlq"
    }
  }
}

variables {
  notification_email = "security@example.com"
  create_analyzer    = false
  analyzer_arns      = ["arn:aws:access-analyzer:us-east-1:111122223333:analyzer/home"]
}

run "forwarded_analyzers_are_matched_verified_and_granted" {
  command = apply

  variables {
    audit_table_deletion_protection = false # the test's teardown destroys what this run applied
    regional_analyzer_arns = [
      "arn:aws:access-analyzer:eu-west-1:111122223333:analyzer/eu",
      "arn:aws:access-analyzer:ap-southeast-2:111122223333:analyzer/ap",
    ]
  }

  assert {
    condition = jsonencode(jsondecode(local.event_pattern).resources) == jsonencode([
      "arn:aws:access-analyzer:us-east-1:111122223333:analyzer/home",
      "arn:aws:access-analyzer:eu-west-1:111122223333:analyzer/eu",
      "arn:aws:access-analyzer:ap-southeast-2:111122223333:analyzer/ap",
    ])
    error_message = "The rule matches the events of this Region's analyzer and of the forwarded ones."
  }

  assert {
    condition     = jsondecode(local.lambda_environment.AAR_ANALYZER_ARNS) == jsondecode(local.event_pattern).resources && jsondecode(local.lambda_environment.AAR_ANALYZER_ARNS)[0] == "arn:aws:access-analyzer:us-east-1:111122223333:analyzer/home"
    error_message = "The Lambda accepts (and the sweep lists) every analyzer the rule matches, this Region's first."
  }

  assert {
    condition = jsonencode(one([
      for s in data.aws_iam_policy_document.lambda.statement : s.resources if s.sid == "ReadFindings"
      ])) == jsonencode([
      "arn:aws:access-analyzer:ap-southeast-2:111122223333:analyzer/ap",
      "arn:aws:access-analyzer:eu-west-1:111122223333:analyzer/eu",
      "arn:aws:access-analyzer:us-east-1:111122223333:analyzer/home",
    ])
    error_message = "GetFinding and ListFindings are granted on every analyzer, the forwarded ones included."
  }
}

run "the_same_pattern_as_the_forwarding_rule" {
  command = plan

  module {
    source = "./examples/regional"
  }

  providers = {
    aws          = aws
    aws.regional = aws.regional
  }

  variables {
    regional_region = "eu-west-1"
  }

  assert {
    condition     = jsonencode(output.regional_analyzer_arns) == jsonencode(["arn:aws:access-analyzer:eu-west-1:111122223333:analyzer/access-analyzer-remediation"])
    error_message = "The example forwards the eu-west-1 analyzer it creates."
  }

  assert {
    condition = (
      jsonencode({ for k, v in jsondecode(output.event_patterns.central) : k => v if k != "resources" })
      == jsonencode({ for k, v in jsondecode(output.event_patterns.forwarding) : k => v if k != "resources" })
      && contains(jsondecode(output.event_patterns.central).resources, "arn:aws:access-analyzer:eu-west-1:111122223333:analyzer/access-analyzer-remediation")
      && jsonencode(jsondecode(output.event_patterns.forwarding).resources) == jsonencode(["arn:aws:access-analyzer:eu-west-1:111122223333:analyzer/access-analyzer-remediation"])
    )
    error_message = "The forwarding rule matches what the central rule matches (same source, detail-type and detail), on the eu-west-1 analyzer the central rule also lists."
  }

  assert {
    condition     = output.analyzer_arns[length(output.analyzer_arns) - 1] == "arn:aws:access-analyzer:eu-west-1:111122223333:analyzer/access-analyzer-remediation" && length(output.analyzer_arns) == 2
    error_message = "The central deployment uses its own analyzer and the forwarded one."
  }
}

run "refuses_a_forwarded_analyzer_of_another_account" {
  command = plan

  variables {
    regional_analyzer_arns = ["arn:aws:access-analyzer:eu-west-1:444455556666:analyzer/eu"]
  }

  expect_failures = [aws_cloudwatch_event_rule.this]
}

run "refuses_a_forwarded_analyzer_of_another_partition" {
  command = plan

  variables {
    regional_analyzer_arns = ["arn:aws-us-gov:access-analyzer:us-gov-west-1:111122223333:analyzer/gov"]
  }

  expect_failures = [aws_cloudwatch_event_rule.this]
}

run "refuses_a_forwarded_analyzer_of_this_region" {
  command = plan

  variables {
    regional_analyzer_arns = ["arn:aws:access-analyzer:us-east-1:111122223333:analyzer/other"]
  }

  expect_failures = [aws_cloudwatch_event_rule.this]
}

run "still_refuses_an_unforwarded_region_in_analyzer_arns" {
  command = plan

  variables {
    analyzer_arns          = ["arn:aws:access-analyzer:eu-west-1:111122223333:analyzer/eu"]
    regional_analyzer_arns = ["arn:aws:access-analyzer:ap-southeast-2:111122223333:analyzer/ap"]
  }

  expect_failures = [aws_cloudwatch_event_rule.this]
}

run "refuses_a_bad_regional_analyzer_arn" {
  command = plan

  variables {
    regional_analyzer_arns = ["arn:aws:events:eu-west-1:111122223333:event-bus/default"]
  }

  expect_failures = [var.regional_analyzer_arns]
}

run "refuses_an_analyzer_listed_twice" {
  command = plan

  variables {
    regional_analyzer_arns = ["arn:aws:access-analyzer:us-east-1:111122223333:analyzer/home"]
  }

  expect_failures = [var.regional_analyzer_arns]
}
