# The member role's StackSet against a mocked AWS provider: service-managed with auto-deployment, the caller's
# role (call_as) on both resources, and a template whose role trusts only the central role and carries
# modules/permissions' statements. tests/member_role.tftest.hcl (repo root) compares that policy with the member
# role's and the central Lambda role's.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }

  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  central_role_arn        = "arn:aws:iam::111122223333:role/access-analyzer-remediation-lambda"
  organizational_unit_ids = ["ou-ab12-cdef3456", "ou-ab12-99990000"]
}

run "service_managed_with_auto_deployment" {
  command = apply

  assert {
    condition = (
      aws_cloudformation_stack_set.this.permission_model == "SERVICE_MANAGED"
      && aws_cloudformation_stack_set.this.call_as == "SELF"
      && aws_cloudformation_stack_set.this.auto_deployment[0].enabled
      && !aws_cloudformation_stack_set.this.auto_deployment[0].retain_stacks_on_account_removal
      && aws_cloudformation_stack_set.this.capabilities == toset(["CAPABILITY_NAMED_IAM"])
      && aws_cloudformation_stack_set.this.template_body == output.template_body
    )
    error_message = "SERVICE_MANAGED, auto-deployment on, CAPABILITY_NAMED_IAM (a named role), the module's template."
  }

  assert {
    condition     = aws_cloudformation_stack_set.this.administration_role_arn == null
    error_message = "No SELF_MANAGED administration role: StackSets reaches the accounts through Organizations."
  }

  assert {
    condition = (
      aws_cloudformation_stack_set_instance.this.stack_set_name == aws_cloudformation_stack_set.this.name
      && aws_cloudformation_stack_set_instance.this.call_as == "SELF"
      && aws_cloudformation_stack_set_instance.this.deployment_targets[0].organizational_unit_ids == toset(["ou-ab12-cdef3456", "ou-ab12-99990000"])
    )
    error_message = "One stack instance resource for the target OUs."
  }

  assert {
    condition = jsondecode(output.template_body).Resources.MemberRole.Properties.AssumeRolePolicyDocument == {
      Version = "2012-10-17"
      Statement = [{
        Sid       = "CentralLambdaRole"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::111122223333:role/access-analyzer-remediation-lambda" }
        Action    = "sts:AssumeRole"
      }]
    }
    error_message = "The role trusts the central role ARN only, no condition when none is asked for."
  }

  assert {
    condition = (
      jsondecode(output.template_body).Resources.MemberRole.Properties.RoleName == "access-analyzer-remediation-member"
      && jsondecode(output.template_body).Resources.MemberRole.Properties.Path == "/"
      && jsondecode(output.template_body).Resources.MemberRole.Properties.MaxSessionDuration == 3600
      && !can(jsondecode(output.template_body).Resources.MemberRole.Properties.Tags)
      && !can(jsondecode(output.template_body).Resources.MemberRole.Properties.PermissionsBoundary)
    )
    error_message = "The default name and path, one-hour sessions; no tags or boundary unless given."
  }

  # The template's policy is modules/permissions' statements, each account's id by Fn::Sub.
  assert {
    condition = jsonencode([
      for s in jsondecode(output.template_body).Resources.MemberRole.Properties.Policies[0].PolicyDocument.Statement : {
        sid       = s.Sid
        effect    = s.Effect
        actions   = s.Action
        resources = [for r in s.Resource : try(r["Fn::Sub"], r)]
        conditions = flatten([for test, variables in try(s.Condition, {}) : [
          for variable, values in variables : { test = test, variable = variable, values = [for v in values : try(v["Fn::Sub"], v)] }
        ]])
      }
    ]) == jsonencode(module.permissions.statements)
    error_message = "The template carries exactly modules/permissions' statements."
  }

  assert {
    condition = [for s in jsondecode(output.template_body).Resources.MemberRole.Properties.Policies[0].PolicyDocument.Statement : s.Resource if s.Sid == "NeverEditItself"] == [
      [{ "Fn::Sub" = "arn:aws:iam::$${AWS::AccountId}:role/access-analyzer-remediation-member" }],
    ]
    error_message = "Each account's role denies itself every IAM write (its own ARN, resolved by CloudFormation)."
  }

  assert {
    condition     = output.role_arn_pattern == "arn:aws:iam::<account>:role/access-analyzer-remediation-member"
    error_message = "The role's ARN in every target account."
  }
}

run "delegated_admin_organization_and_external_id" {
  command = apply

  variables {
    call_as                          = "DELEGATED_ADMIN"
    organization_id                  = "o-a1b2c3d4e5"
    external_id                      = "aar-5f0c2f6e"
    retain_stacks_on_account_removal = true
    tags                             = { team = "security" }
  }

  assert {
    condition     = aws_cloudformation_stack_set.this.call_as == "DELEGATED_ADMIN" && aws_cloudformation_stack_set_instance.this.call_as == "DELEGATED_ADMIN"
    error_message = "call_as on the stack set and on its instances."
  }

  assert {
    condition = jsondecode(output.template_body).Resources.MemberRole.Properties.AssumeRolePolicyDocument.Statement[0].Condition == {
      StringEquals = { "aws:PrincipalOrgID" = "o-a1b2c3d4e5", "sts:ExternalId" = "aar-5f0c2f6e" }
    }
    error_message = "The organization and the ExternalId are required of the caller."
  }

  assert {
    condition     = jsondecode(output.template_body).Resources.MemberRole.Properties.Tags == [{ Key = "team", Value = "security" }] && aws_cloudformation_stack_set.this.auto_deployment[0].retain_stacks_on_account_removal
    error_message = "Tags on the role; stacks retained on account removal when asked."
  }
}

# Inputs the StackSet refuses.

run "call_as_unknown" {
  command = plan
  variables {
    call_as = "MEMBER"
  }
  expect_failures = [var.call_as]
}

run "no_target" {
  command = plan
  variables {
    organizational_unit_ids = []
  }
  expect_failures = [var.organizational_unit_ids]
}

run "target_is_an_account" {
  command = plan
  variables {
    organizational_unit_ids = ["444455556666"]
  }
  expect_failures = [var.organizational_unit_ids]
}

run "central_account_root" {
  command = plan
  variables {
    central_role_arn = "arn:aws:iam::111122223333:root"
  }
  expect_failures = [var.central_role_arn]
}

run "protected_resource_with_a_substitution" {
  command = plan
  variables {
    protected_resource_arns = ["arn:aws:sqs:us-west-2:444455556666:$${AWS::Region}"]
  }
  expect_failures = [var.protected_resource_arns]
}

run "operation_preferences_out_of_range" {
  command = plan
  variables {
    operation_preferences = { max_concurrent_percentage = 0 }
  }
  expect_failures = [var.operation_preferences]
}
