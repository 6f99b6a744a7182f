locals {
  # CloudFormation resolves the member account in each stack instance: every ARN of the policy names this
  # pseudo parameter, wrapped in Fn::Sub below. Terraform does not know the member accounts (auto-deployment adds
  # accounts that join later).
  account_placeholder = "$${AWS::AccountId}"
  role_arn            = "arn:${data.aws_partition.current.partition}:iam::${local.account_placeholder}:role${var.path}${var.name}"
}

# The same remediation statements as the central Lambda role and modules/member-role (modules/permissions): one
# source, no copy of the policy in the template.
module "permissions" {
  source = "../permissions"

  resource_types          = var.resource_types
  partition               = data.aws_partition.current.partition
  account_id              = local.account_placeholder
  protected_role_patterns = var.protected_role_patterns
  protected_resource_arns = var.protected_resource_arns
  own_resource_arns       = { roles = [local.role_arn] }
  self_role_arn           = local.role_arn
}

locals {
  # A string that names the placeholder becomes {"Fn::Sub": string}, any other stays as it is. Both branches are
  # JSON text, decoded again, so the conditional's two result types agree. protected_resource_arns cannot hold `$`
  # (variables.tf): Fn::Sub sees no other `$${...}` than the account.
  cfn = {
    for s in module.permissions.statements : s.sid => {
      resources = [for r in s.resources : jsondecode(strcontains(r, local.account_placeholder) ? jsonencode({ "Fn::Sub" = r }) : jsonencode(r))]
      condition = {
        for test in distinct([for c in s.conditions : c.test]) : test => merge([
          for c in s.conditions : {
            (c.variable) = [for v in c.values : jsondecode(strcontains(v, local.account_placeholder) ? jsonencode({ "Fn::Sub" = v }) : jsonencode(v))]
          } if c.test == test
        ]...)
      }
    }
  }

  # modules/permissions' statements in IAM's JSON grammar, Condition only where there is one.
  cfn_policy = {
    Version = "2012-10-17"
    Statement = [
      for s in module.permissions.statements : merge(
        { Sid = s.sid, Effect = s.effect, Action = s.actions, Resource = local.cfn[s.sid].resources },
        { for key, condition in { Condition = local.cfn[s.sid].condition } : key => condition if length(s.conditions) > 0 },
      )
    ]
  }
}
