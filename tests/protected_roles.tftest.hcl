# protected_role_patterns are enforced by IAM too: every pattern becomes resources of the Lambda role's explicit Deny
# of iam:UpdateAssumeRolePolicy, and a pattern that would mean something else in IAM than in the code is rejected.

# The same mocked AWS as tests/module.tftest.hcl: realistic ARNs, so the runs that apply read like the real thing.
mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }

  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333", arn = "arn:aws:iam::111122223333:user/terraform" }
  }

  mock_data "aws_region" {
    defaults = { id = "us-west-2", name = "us-west-2" }
  }

  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }

  mock_resource "aws_accessanalyzer_analyzer" {
    defaults = { arn = "arn:aws:access-analyzer:us-west-2:111122223333:analyzer/access-analyzer-remediation" }
  }

  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:us-west-2:111122223333:key/55555555-5555-5555-5555-555555555555" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-west-2:111122223333:access-analyzer-remediation" }
  }

  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:us-west-2:111122223333:table/access-analyzer-remediation-audit" }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-west-2:111122223333:log-group:/aws/lambda/access-analyzer-remediation" }
  }

  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:us-west-2:111122223333:rule/access-analyzer-remediation" }
  }

  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:us-west-2:111122223333:function:access-analyzer-remediation" }
  }

  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:us-west-2:111122223333:access-analyzer-remediation"
      url = "https://sqs.us-west-2.amazonaws.com/111122223333/access-analyzer-remediation"
    }
  }

  override_resource {
    target = aws_iam_role.lambda
    values = { arn = "arn:aws:iam::111122223333:role/access-analyzer-remediation-lambda-us-west-2" }
  }

  override_resource {
    target = aws_iam_role.scheduler
    values = { arn = "arn:aws:iam::111122223333:role/access-analyzer-remediation-scheduler-us-west-2" }
  }
}

variables {
  notification_email = "security@example.com"
}

run "default_patterns_are_denied_by_iam" {
  command = apply

  assert {
    condition = var.protected_role_patterns == tolist([
      "OrganizationAccountAccessRole", "AWSControlTowerExecution", "aws-controltower-*", "AWSAFT*", "/aws-reserved/*",
      "AWSCloudFormationStackSetExecutionRole", "AWSCloudFormationStackSetAdministrationRole", "stacksets-exec-*",
    ])
    error_message = "The default patterns are the ones of docs/architecture.md."
  }

  assert {
    condition = [for s in data.aws_iam_policy_document.lambda.statement : s.resources if s.sid == "NeverEditProtectedRoles"] == [toset([
      # the tool's own roles and service-linked roles
      "arn:aws:iam::111122223333:role/access-analyzer-remediation-lambda-us-west-2",
      "arn:aws:iam::111122223333:role/access-analyzer-remediation-scheduler-us-west-2",
      "arn:aws:iam::111122223333:role/aws-service-role/*",
      # name patterns: the name at path / and under any deeper path
      "arn:aws:iam::111122223333:role/OrganizationAccountAccessRole",
      "arn:aws:iam::111122223333:role/*/OrganizationAccountAccessRole",
      "arn:aws:iam::111122223333:role/AWSControlTowerExecution",
      "arn:aws:iam::111122223333:role/*/AWSControlTowerExecution",
      "arn:aws:iam::111122223333:role/aws-controltower-*",
      "arn:aws:iam::111122223333:role/*/aws-controltower-*",
      "arn:aws:iam::111122223333:role/AWSAFT*",
      "arn:aws:iam::111122223333:role/*/AWSAFT*",
      "arn:aws:iam::111122223333:role/AWSCloudFormationStackSetExecutionRole",
      "arn:aws:iam::111122223333:role/*/AWSCloudFormationStackSetExecutionRole",
      "arn:aws:iam::111122223333:role/AWSCloudFormationStackSetAdministrationRole",
      "arn:aws:iam::111122223333:role/*/AWSCloudFormationStackSetAdministrationRole",
      "arn:aws:iam::111122223333:role/stacksets-exec-*",
      "arn:aws:iam::111122223333:role/*/stacksets-exec-*",
      # path pattern: path + name as written
      "arn:aws:iam::111122223333:role/aws-reserved/*",
    ])]
    error_message = "The Deny covers the own roles, service-linked roles and every default pattern as role ARNs."
  }

  assert {
    condition = [for s in data.aws_iam_policy_document.lambda.statement : [s.effect, s.actions] if s.sid == "NeverEditProtectedRoles"] == [
      ["Deny", toset(["iam:UpdateAssumeRolePolicy"])],
    ]
    error_message = "One explicit Deny of iam:UpdateAssumeRolePolicy."
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables.AAR_PROTECTED_ROLE_PATTERNS == jsonencode(var.protected_role_patterns)
    error_message = "The Lambda gets the same patterns (AAR_PROTECTED_ROLE_PATTERNS)."
  }
}

run "custom_patterns" {
  command = apply

  variables {
    protected_role_patterns = ["break-glass-?", "/security/admin/*", "/team/Deployer", "Audit_Role", "Audit_Role"]
  }

  assert {
    condition = [for s in data.aws_iam_policy_document.lambda.statement : s.resources if s.sid == "NeverEditProtectedRoles"] == [toset([
      "arn:aws:iam::111122223333:role/access-analyzer-remediation-lambda-us-west-2",
      "arn:aws:iam::111122223333:role/access-analyzer-remediation-scheduler-us-west-2",
      "arn:aws:iam::111122223333:role/aws-service-role/*",
      "arn:aws:iam::111122223333:role/break-glass-?",
      "arn:aws:iam::111122223333:role/*/break-glass-?",
      "arn:aws:iam::111122223333:role/security/admin/*",
      "arn:aws:iam::111122223333:role/team/Deployer",
      "arn:aws:iam::111122223333:role/Audit_Role",
      "arn:aws:iam::111122223333:role/*/Audit_Role",
    ])]
    error_message = "Name patterns give role/P and role/*/P, path patterns role/<path + name>; duplicates once."
  }
}

run "no_patterns_keeps_own_and_service_linked_roles" {
  command = apply

  variables {
    protected_role_patterns = []
  }

  assert {
    condition = [for s in data.aws_iam_policy_document.lambda.statement : s.resources if s.sid == "NeverEditProtectedRoles"] == [toset([
      "arn:aws:iam::111122223333:role/access-analyzer-remediation-lambda-us-west-2",
      "arn:aws:iam::111122223333:role/access-analyzer-remediation-scheduler-us-west-2",
      "arn:aws:iam::111122223333:role/aws-service-role/*",
    ])]
    error_message = "The own roles and service-linked roles stay denied without any pattern."
  }
}

# Invalid patterns: each would mean something else to IAM than to the Lambda's glob, or is no role name at all.

run "pattern_character_class" {
  command = plan
  variables { protected_role_patterns = ["stacksets-exec-[0-9]*"] }
  expect_failures = [var.protected_role_patterns]
}

run "pattern_closing_bracket" {
  command = plan
  variables { protected_role_patterns = ["admin]"] }
  expect_failures = [var.protected_role_patterns]
}

run "pattern_whitespace" {
  command = plan
  variables { protected_role_patterns = ["Organization Account Access Role"] }
  expect_failures = [var.protected_role_patterns]
}

run "pattern_trailing_newline" {
  command = plan
  variables { protected_role_patterns = ["OrganizationAccountAccessRole\n"] }
  expect_failures = [var.protected_role_patterns]
}

run "pattern_empty" {
  command = plan
  variables { protected_role_patterns = [""] }
  expect_failures = [var.protected_role_patterns]
}

run "pattern_too_long" {
  command = plan
  variables { protected_role_patterns = ["a123456789b123456789c123456789d123456789e123456789f123456789g123456789h123456789i123456789j123456789k123456789l123456789m123456789"] }
  expect_failures = [var.protected_role_patterns]
}

run "pattern_policy_variable" {
  command = plan
  variables { protected_role_patterns = ["$${aws:username}"] }
  expect_failures = [var.protected_role_patterns]
}

run "pattern_path_without_leading_slash" {
  command = plan
  variables { protected_role_patterns = ["aws-reserved/*"] }
  expect_failures = [var.protected_role_patterns]
}

run "pattern_path_without_name" {
  command = plan
  variables { protected_role_patterns = ["/aws-reserved/"] }
  expect_failures = [var.protected_role_patterns]
}

run "pattern_empty_path_segment" {
  command = plan
  variables { protected_role_patterns = ["//admin"] }
  expect_failures = [var.protected_role_patterns]
}

# terraform test destroys what the runs applied when the file is done, and the destroy guard (uninstall.tf) stops any
# destroy while the audit table is protected, this one too: the last apply switches the protection off, as a user must.
run "deletion_protection_off_before_the_test_destroys" {
  command = apply

  variables {
    audit_table_deletion_protection = false
  }

  assert {
    condition     = terraform_data.destroy_guard.input.deletion_protection == false
    error_message = "The guard lets the destroy through once the protection is off."
  }
}
