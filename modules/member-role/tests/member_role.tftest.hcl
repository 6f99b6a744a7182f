# The member role against a mocked AWS provider (the member account is 444455556666): whom it trusts, what it denies
# itself, and the inputs it refuses. tests/member_role.tftest.hcl (repo root) compares its statements with the
# central Lambda role's.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }

  mock_data "aws_caller_identity" {
    defaults = { account_id = "444455556666", arn = "arn:aws:iam::444455556666:role/terraform" }
  }

  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }

  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::444455556666:role/access-analyzer-remediation-member" }
  }
}

variables {
  central_role_arn = "arn:aws:iam::111122223333:role/access-analyzer-remediation-lambda"
}

run "trusts_only_the_central_role" {
  command = apply

  assert {
    condition = [for s in data.aws_iam_policy_document.trust.statement : {
      sid        = s.sid
      actions    = s.actions
      principals = [for p in s.principals : [p.type, p.identifiers]]
      conditions = length(s.condition)
      }] == [{
      sid        = "CentralLambdaRole"
      actions    = toset(["sts:AssumeRole"])
      principals = [["AWS", toset(["arn:aws:iam::111122223333:role/access-analyzer-remediation-lambda"])]]
      conditions = 0
    }]
    error_message = "One statement: sts:AssumeRole for the central role ARN only, no condition when none is asked for."
  }

  assert {
    condition     = aws_iam_role.this.assume_role_policy == data.aws_iam_policy_document.trust.json && aws_iam_role_policy.this.policy == data.aws_iam_policy_document.permissions.json
    error_message = "The role carries the trust document and the permissions document."
  }

  assert {
    condition = (
      aws_iam_role.this.name == "access-analyzer-remediation-member" && aws_iam_role.this.path == "/"
      && aws_iam_role.this.max_session_duration == 3600 && aws_iam_role.this.permissions_boundary == null
      && output.role_name == "access-analyzer-remediation-member"
    )
    error_message = "The default name and path, one-hour sessions (role chaining), no boundary."
  }
}

run "denies_itself_and_protected_roles" {
  command = apply

  assert {
    condition = [for s in data.aws_iam_policy_document.permissions.statement : [s.effect, s.resources] if s.sid == "NeverEditItself"] == [
      ["Deny", toset(["arn:aws:iam::444455556666:role/access-analyzer-remediation-member"])],
    ]
    error_message = "An explicit Deny on the role itself."
  }

  assert {
    condition = alltrue([for a in ["iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary", "iam:DeleteRole"] :
      contains(one([for s in data.aws_iam_policy_document.permissions.statement : s.actions if s.sid == "NeverEditItself"]), a)
    ])
    error_message = "It can never edit its own trust policy, policies or boundary, nor delete itself."
  }

  assert {
    condition = [for s in data.aws_iam_policy_document.permissions.statement : s.resources if s.sid == "NeverEditProtectedRoles"] == [toset([
      "arn:aws:iam::444455556666:role/access-analyzer-remediation-member",
      "arn:aws:iam::444455556666:role/aws-service-role/*",
      "arn:aws:iam::444455556666:role/OrganizationAccountAccessRole",
      "arn:aws:iam::444455556666:role/*/OrganizationAccountAccessRole",
      "arn:aws:iam::444455556666:role/AWSControlTowerExecution",
      "arn:aws:iam::444455556666:role/*/AWSControlTowerExecution",
      "arn:aws:iam::444455556666:role/aws-controltower-*",
      "arn:aws:iam::444455556666:role/*/aws-controltower-*",
      "arn:aws:iam::444455556666:role/AWSAFT*",
      "arn:aws:iam::444455556666:role/*/AWSAFT*",
      "arn:aws:iam::444455556666:role/aws-reserved/*",
      "arn:aws:iam::444455556666:role/AWSCloudFormationStackSetExecutionRole",
      "arn:aws:iam::444455556666:role/*/AWSCloudFormationStackSetExecutionRole",
      "arn:aws:iam::444455556666:role/AWSCloudFormationStackSetAdministrationRole",
      "arn:aws:iam::444455556666:role/*/AWSCloudFormationStackSetAdministrationRole",
      "arn:aws:iam::444455556666:role/stacksets-exec-*",
      "arn:aws:iam::444455556666:role/*/stacksets-exec-*",
    ])]
    error_message = "The protected roles of the member account (the central deployment's default patterns), service-linked roles and the role itself."
  }

  assert {
    condition = toset([for s in data.aws_iam_policy_document.permissions.statement : s.sid]) == toset([
      "EditRoleTrustPolicies", "NeverEditProtectedRoles", "NeverEditItself", "EditBucketPolicies", "EditKeyPolicies",
    ])
    error_message = "The default resource types' statements; no bucket or key Deny without a protected one (the member account has no deployment of its own)."
  }

  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.permissions.statement : alltrue([
      for r in s.resources : r == "arn:aws:s3:::*" || startswith(r, "arn:aws:iam::444455556666:") || startswith(r, "arn:aws:kms:*:444455556666:")
    ])])
    error_message = "Every resource is of the member account (a bucket ARN names none: s3:ResourceAccount)."
  }
}

run "organization_and_external_id" {
  command = apply

  variables {
    organization_id = "o-a1b2c3d4e5"
    external_id     = "aar-5f0c2f6e"
    name            = "aar-member"
    path            = "/security/"
    tags            = { team = "security" }
  }

  assert {
    condition = { for c in one(data.aws_iam_policy_document.trust.statement).condition : c.variable => jsonencode([c.test, c.values]) } == {
      "aws:PrincipalOrgID" = jsonencode(["StringEquals", ["o-a1b2c3d4e5"]])
      "sts:ExternalId"     = jsonencode(["StringEquals", ["aar-5f0c2f6e"]])
    }
    error_message = "The organization and the ExternalId are required of the caller."
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.permissions.statement : s.resources if s.sid == "NeverEditItself"] == [toset(["arn:aws:iam::444455556666:role/security/aar-member"])]
    error_message = "The Deny on itself follows the name and path."
  }

  assert {
    condition     = aws_iam_role.this.name == "aar-member" && aws_iam_role.this.path == "/security/" && aws_iam_role.this.tags == tomap({ team = "security" })
    error_message = "Name, path and tags as given."
  }
}

run "every_resource_type" {
  command = apply

  variables {
    resource_types = [
      "AWS::IAM::Role", "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::SQS::Queue", "AWS::SNS::Topic",
      "AWS::SecretsManager::Secret", "AWS::ECR::Repository", "AWS::EFS::FileSystem", "AWS::DynamoDB::Table",
      "AWS::DynamoDB::Stream", "AWS::S3Express::DirectoryBucket", "AWS::Lambda::Function", "AWS::Lambda::LayerVersion",
      "AWS::EC2::Snapshot", "AWS::RDS::DBSnapshot", "AWS::RDS::DBClusterSnapshot",
    ]
    protected_resource_arns = ["arn:aws:sqs:eu-west-1:444455556666:payments"]
  }

  assert {
    condition = [for s in data.aws_iam_policy_document.permissions.statement : s.sid if s.effect == "Deny"] == [
      "NeverEditProtectedRoles", "NeverEditItself", "NeverEditOwnOrProtectedQueues",
    ]
    error_message = "Only the Denies with something to deny: the roles, itself and the protected queue (no own function, queue or topic in a member account)."
  }
}

# Inputs the role refuses.

run "central_role_wildcard" {
  command = plan
  variables {
    central_role_arn = "arn:aws:iam::111122223333:role/*"
  }
  expect_failures = [var.central_role_arn]
}

run "central_account_root" {
  command = plan
  variables {
    central_role_arn = "arn:aws:iam::111122223333:root"
  }
  expect_failures = [var.central_role_arn]
}

run "organization_id_malformed" {
  command = plan
  variables {
    organization_id = "o-ABC"
  }
  expect_failures = [var.organization_id]
}

run "external_id_too_short" {
  command = plan
  variables {
    external_id = "x"
  }
  expect_failures = [var.external_id]
}

run "name_with_a_slash" {
  command = plan
  variables {
    name = "team/member"
  }
  expect_failures = [var.name]
}

run "path_without_trailing_slash" {
  command = plan
  variables {
    path = "/security"
  }
  expect_failures = [var.path]
}

run "unknown_resource_type" {
  command = plan
  variables {
    resource_types = ["AWS::IAM::Role", "AWS::EC2::Instance"]
  }
  expect_failures = [var.resource_types]
}

run "pattern_character_class" {
  command = plan
  variables {
    protected_role_patterns = ["admin[0-9]"]
  }
  expect_failures = [var.protected_role_patterns]
}

run "protected_resource_wildcard" {
  command = plan
  variables {
    protected_resource_arns = ["arn:aws:sqs:us-west-2:444455556666:*"]
  }
  expect_failures = [var.protected_resource_arns]
}

run "boundary_not_a_policy" {
  command = plan
  variables {
    permissions_boundary = "arn:aws:iam::444455556666:role/boundary"
  }
  expect_failures = [var.permissions_boundary]
}
