# modules/regional against a mocked AWS provider in eu-west-1 of account 111122223333, the central deployment in
# us-east-1: what the rule matches and where it sends it, what the role may do, and the inputs it refuses.
# tests/regional.tftest.hcl (repo root) compares the forwarding pattern with the central rule's.

mock_provider "aws" {
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

  mock_resource "aws_accessanalyzer_analyzer" {
    defaults = { arn = "arn:aws:access-analyzer:eu-west-1:111122223333:analyzer/access-analyzer-remediation" }
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
  central_event_bus_arn = "arn:aws:events:us-east-1:111122223333:event-bus/default"
}

run "forwards_the_central_pattern_to_the_central_bus" {
  command = apply

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.forward.event_pattern) == {
      source        = ["aws.access-analyzer"]
      "detail-type" = ["Access Analyzer Finding"]
      resources     = ["arn:aws:access-analyzer:eu-west-1:111122223333:analyzer/access-analyzer-remediation"]
      detail = {
        status       = ["ACTIVE"]
        isDeleted    = [{ exists = false }, false]
        resourceType = [{ prefix = "AWS::IAM::Role" }, { prefix = "AWS::S3::Bucket" }, { prefix = "AWS::KMS::Key" }]
      }
    }
    error_message = "The rule matches ACTIVE, not deleted finding events of the default types from this Region's analyzer."
  }

  assert {
    condition = (
      aws_cloudwatch_event_target.forward.arn == "arn:aws:events:us-east-1:111122223333:event-bus/default"
      && aws_cloudwatch_event_target.forward.role_arn == aws_iam_role.forward.arn
      && aws_cloudwatch_event_target.forward.dead_letter_config[0].arn == aws_sqs_queue.dlq.arn
      && aws_cloudwatch_event_target.forward.retry_policy[0].maximum_event_age_in_seconds == 86400
      && aws_cloudwatch_event_target.forward.retry_policy[0].maximum_retry_attempts == 185
    )
    error_message = "The target is the central bus, put with the forwarding role; failures retry for a day, then go to the DLQ."
  }

  assert {
    condition = (
      aws_accessanalyzer_analyzer.this[0].analyzer_name == "access-analyzer-remediation"
      && aws_accessanalyzer_analyzer.this[0].type == "ACCOUNT"
      && aws_cloudwatch_event_rule.forward.name == "access-analyzer-remediation-forward"
      && aws_iam_role.forward.name == "access-analyzer-remediation-forward-eu-west-1"
      && aws_sqs_queue.dlq.name == "access-analyzer-remediation-forward-dlq"
      && aws_sqs_queue.dlq.sqs_managed_sse_enabled == true
    )
    error_message = "Default names: the analyzer and rule regional, the (account-global) role Region-qualified; the DLQ encrypted."
  }

  assert {
    condition     = jsonencode(output.analyzer_arns) == jsonencode(["arn:aws:access-analyzer:eu-west-1:111122223333:analyzer/access-analyzer-remediation"]) && output.role_arn == aws_iam_role.forward.arn && output.event_rule_arn == aws_cloudwatch_event_rule.forward.arn
    error_message = "The outputs name the forwarded analyzers, the role and the rule."
  }
}

run "role_may_only_put_events_on_the_central_bus" {
  command = plan

  assert {
    condition = jsonencode([for s in data.aws_iam_policy_document.forward.statement : [coalesce(s.effect, "Allow"), s.actions, s.resources]]) == jsonencode([
      ["Allow", ["events:PutEvents"], ["arn:aws:events:us-east-1:111122223333:event-bus/default"]]
    ])
    error_message = "One statement: events:PutEvents on the central bus, nothing else."
  }

  assert {
    condition = jsonencode([for s in data.aws_iam_policy_document.trust.statement : {
      effect     = coalesce(s.effect, "Allow")
      actions    = s.actions
      principals = [for p in s.principals : [p.type, p.identifiers]]
      conditions = { for c in s.condition : c.variable => [c.test, c.values] }
      }]) == jsonencode([{
      effect     = "Allow"
      actions    = ["sts:AssumeRole"]
      principals = [["Service", ["events.amazonaws.com"]]]
      conditions = {
        "aws:SourceAccount" = ["StringEquals", ["111122223333"]]
        "aws:SourceArn"     = ["ArnEquals", ["arn:aws:events:eu-west-1:111122223333:rule/access-analyzer-remediation-forward"]]
      }
    }])
    error_message = "Only EventBridge, for this account's forwarding rule, may assume the role."
  }

  assert {
    condition = jsonencode([for s in data.aws_iam_policy_document.dlq.statement : [s.sid, coalesce(s.effect, "Allow"), s.actions, s.resources]]) == jsonencode([
      ["AllowThisRuleOnly", "Allow", ["sqs:SendMessage"], ["arn:aws:sqs:eu-west-1:111122223333:access-analyzer-remediation-forward-dlq"]],
      ["DenyInsecureTransport", "Deny", ["sqs:*"], ["arn:aws:sqs:eu-west-1:111122223333:access-analyzer-remediation-forward-dlq"]],
    ])
    error_message = "The DLQ takes messages from the forwarding rule only, over TLS only."
  }
}

run "existing_analyzers_only" {
  command = plan

  variables {
    name            = "aar"
    create_analyzer = false
    analyzer_arns   = ["arn:aws:access-analyzer:eu-west-1:111122223333:analyzer/org"]
    resource_types  = ["AWS::SQS::Queue"]
  }

  assert {
    condition = (
      length(aws_accessanalyzer_analyzer.this) == 0
      && jsonencode(jsondecode(aws_cloudwatch_event_rule.forward.event_pattern).resources) == jsonencode(["arn:aws:access-analyzer:eu-west-1:111122223333:analyzer/org"])
      && jsonencode(jsondecode(aws_cloudwatch_event_rule.forward.event_pattern).detail.resourceType) == jsonencode([{ prefix = "AWS::SQS::Queue" }])
      && aws_iam_role.forward.name == "aar-forward-eu-west-1"
      && jsonencode(output.analyzer_arns) == jsonencode(["arn:aws:access-analyzer:eu-west-1:111122223333:analyzer/org"])
    )
    error_message = "No analyzer created; the rule forwards the given analyzer's findings of the given types."
  }
}

run "organization_analyzer_named" {
  command = plan

  variables {
    analyzer_type = "ORGANIZATION"
    analyzer_name = "org-eu"
  }

  assert {
    condition     = aws_accessanalyzer_analyzer.this[0].type == "ORGANIZATION" && aws_accessanalyzer_analyzer.this[0].analyzer_name == "org-eu"
    error_message = "The analyzer takes analyzer_type and analyzer_name."
  }
}

run "refuses_a_bus_of_this_region" {
  command = plan

  variables {
    central_event_bus_arn = "arn:aws:events:eu-west-1:111122223333:event-bus/default"
  }

  expect_failures = [aws_cloudwatch_event_rule.forward]
}

run "refuses_a_bus_of_another_account" {
  command = plan

  variables {
    central_event_bus_arn = "arn:aws:events:us-east-1:444455556666:event-bus/default"
  }

  expect_failures = [aws_cloudwatch_event_rule.forward]
}

run "refuses_an_analyzer_of_another_region" {
  command = plan

  variables {
    create_analyzer = false
    analyzer_arns   = ["arn:aws:access-analyzer:us-east-1:111122223333:analyzer/home"]
  }

  expect_failures = [aws_cloudwatch_event_rule.forward]
}

run "refuses_an_analyzer_of_another_account" {
  command = plan

  variables {
    analyzer_arns = ["arn:aws:access-analyzer:eu-west-1:444455556666:analyzer/other"]
  }

  expect_failures = [aws_cloudwatch_event_rule.forward]
}

run "refuses_no_analyzer" {
  command = plan

  variables {
    create_analyzer = false
  }

  expect_failures = [aws_cloudwatch_event_rule.forward]
}

run "refuses_a_non_bus_arn" {
  command = plan

  variables {
    central_event_bus_arn = "arn:aws:sqs:us-east-1:111122223333:queue"
  }

  expect_failures = [var.central_event_bus_arn]
}

run "refuses_a_custom_bus" {
  command = plan

  variables {
    central_event_bus_arn = "arn:aws:events:us-east-1:111122223333:event-bus/custom"
  }

  expect_failures = [var.central_event_bus_arn]
}

run "refuses_a_bad_analyzer_arn" {
  command = plan

  variables {
    analyzer_arns = ["arn:aws:iam::111122223333:role/x"]
  }

  expect_failures = [var.analyzer_arns]
}

run "refuses_a_long_name" {
  command = plan

  variables {
    name = "a-name-that-is-far-too-long-for-the-role-name"
  }

  expect_failures = [var.name]
}

run "refuses_a_bad_analyzer_type" {
  command = plan

  variables {
    analyzer_type = "UNUSED_ACCESS"
  }

  expect_failures = [var.analyzer_type]
}
