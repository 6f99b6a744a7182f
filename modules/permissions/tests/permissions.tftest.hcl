# The remediation statements on their own: what each input adds, and the inputs refused. The root module's tests
# (tests/*.tftest.hcl) check the Lambda role built from them; tests/member_role.tftest.hcl the member role's.

mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  resource_types = ["AWS::IAM::Role"]
  partition      = "aws"
  account_id     = "444455556666"
}

run "roles_only" {
  command = apply

  assert {
    condition = jsonencode(output.statements) == jsonencode([
      {
        sid       = "EditRoleTrustPolicies", effect = "Allow", actions = ["iam:GetRole", "iam:UpdateAssumeRolePolicy"]
        resources = ["arn:aws:iam::444455556666:role/*"], conditions = []
      },
      {
        sid       = "NeverEditProtectedRoles", effect = "Deny", actions = ["iam:UpdateAssumeRolePolicy"]
        resources = ["arn:aws:iam::444455556666:role/aws-service-role/*"], conditions = []
      },
    ])
    error_message = "Without patterns, own roles or a self role: the trust policies of the account, never a service-linked role."
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.this.statement : s.sid] == [for s in output.statements : s.sid]
    error_message = "The JSON output is built from the same statements, in the same order."
  }
}

run "order_does_not_follow_the_input" {
  command = apply

  variables {
    resource_types = ["AWS::SQS::Queue", "AWS::S3::Bucket", "AWS::IAM::Role"]
  }

  assert {
    condition     = [for s in output.statements : s.sid] == ["EditRoleTrustPolicies", "NeverEditProtectedRoles", "EditBucketPolicies", "EditQueuePolicies"]
    error_message = "The statements keep one order whatever the order of resource_types (a reordered input rewrites nothing)."
  }
}

run "own_self_and_protected" {
  command = apply

  variables {
    resource_types          = ["AWS::IAM::Role", "AWS::Lambda::Function"]
    protected_role_patterns = ["/security/*", "break-glass"]
    own_resource_arns       = { functions = ["arn:aws:lambda:us-west-2:444455556666:function:aar"] }
    self_role_arn           = "arn:aws:iam::444455556666:role/member"
  }

  assert {
    condition = jsonencode({ for s in output.statements : s.sid => s.resources if s.effect == "Deny" }) == jsonencode({
      NeverEditProtectedRoles = [
        "arn:aws:iam::444455556666:role/aws-service-role/*",
        "arn:aws:iam::444455556666:role/security/*",
        "arn:aws:iam::444455556666:role/break-glass",
        "arn:aws:iam::444455556666:role/*/break-glass",
      ]
      NeverEditItself                  = ["arn:aws:iam::444455556666:role/member"]
      NeverEditOwnOrProtectedFunctions = ["arn:aws:lambda:us-west-2:444455556666:function:aar", "arn:aws:lambda:us-west-2:444455556666:function:aar:*"]
    })
    error_message = "Path and name patterns, the self role and an own function (with its versions and aliases) are denied."
  }
}

run "cloudformation_placeholder" {
  command = apply

  variables {
    account_id    = "$${AWS::AccountId}"
    self_role_arn = "arn:aws:iam::$${AWS::AccountId}:role/member"
  }

  assert {
    condition     = output.statements[0].resources == ["arn:aws:iam::$${AWS::AccountId}:role/*"]
    error_message = "The placeholder stands where the account id goes (modules/member-role-stackset resolves it with Fn::Sub)."
  }
}

run "account_id_malformed" {
  command = plan
  variables {
    account_id = "4444-5555-6666"
  }
  expect_failures = [var.account_id]
}

run "partition_malformed" {
  command = plan
  variables {
    partition = "amazon"
  }
  expect_failures = [var.partition]
}

run "resource_type_twice" {
  command = plan
  variables {
    resource_types = ["AWS::IAM::Role", "AWS::IAM::Role"]
  }
  expect_failures = [var.resource_types]
}

run "own_resource_not_an_arn" {
  command = plan
  variables {
    own_resource_arns = { queues = ["my-queue"] }
  }
  expect_failures = [var.own_resource_arns]
}

run "self_role_not_a_role" {
  command = plan
  variables {
    self_role_arn = "arn:aws:iam::444455556666:user/member"
  }
  expect_failures = [var.self_role_arn]
}
