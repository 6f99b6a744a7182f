# Service-managed: StackSets creates the execution roles in the member accounts through Organizations, and
# auto-deployment gives the role to every account that joins a target OU later. The management account is never a
# target of a service-managed stack set (even inside a targeted OU): README.md, "Management account".
resource "aws_cloudformation_stack_set" "this" {
  name             = var.stack_set_name
  description      = "access-analyzer-remediation member role, trusted only by ${var.central_role_arn}"
  permission_model = "SERVICE_MANAGED"
  call_as          = var.call_as
  # The role has a fixed name (the central Lambda assumes it by name in every account).
  capabilities  = ["CAPABILITY_NAMED_IAM"]
  template_body = local.template_body

  auto_deployment {
    enabled                          = true
    retain_stacks_on_account_removal = var.retain_stacks_on_account_removal
  }

  # Lets StackSets queue operations instead of refusing one while another runs (an OU change during an update).
  managed_execution {
    active = true
  }

  operation_preferences {
    failure_tolerance_percentage = var.operation_preferences.failure_tolerance_percentage
    max_concurrent_percentage    = var.operation_preferences.max_concurrent_percentage
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = length(local.template_body) <= 51200
      error_message = "The member role's CloudFormation template exceeds the 51,200-byte template_body quota: shorten protected_role_patterns or protected_resource_arns."
    }

    # IAM's 10,240-character inline policy quota, measured on modules/permissions' JSON with the 17-character
    # placeholder where each account writes its 12-digit id: a little stricter than IAM, never looser.
    precondition {
      condition     = length(replace(module.permissions.json, "/\\s+/", "")) <= 10240
      error_message = "The member role's policy exceeds IAM's 10,240-character inline policy quota: shorten protected_role_patterns or protected_resource_arns."
    }
  }
}

# One stack instance per account of the target OUs, in the provider's Region: IAM is global, so the named role
# belongs in one Region only (a second Region's instance would fail with EntityAlreadyExists).
resource "aws_cloudformation_stack_set_instance" "this" {
  stack_set_name = aws_cloudformation_stack_set.this.name
  call_as        = var.call_as

  deployment_targets {
    organizational_unit_ids = var.organizational_unit_ids
  }
}
