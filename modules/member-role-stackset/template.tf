locals {
  # The trust policy of modules/member-role (trust.tf): the one central role ARN, with the organization and
  # ExternalId conditions when given.
  trust_conditions = { for key, value in { "aws:PrincipalOrgID" = var.organization_id, "sts:ExternalId" = var.external_id } : key => value if value != null }
  trust_policy = {
    Version = "2012-10-17"
    Statement = [merge(
      { Sid = "CentralLambdaRole", Effect = "Allow", Principal = { AWS = var.central_role_arn }, Action = "sts:AssumeRole" },
      { for key, condition in { Condition = { StringEquals = local.trust_conditions } } : key => condition if length(local.trust_conditions) > 0 },
    )]
  }

  role_properties = merge(
    {
      RoleName    = var.name
      Path        = var.path
      Description = "Assumed by the central access-analyzer-remediation Lambda to contain external access in this account"
      # Role chaining (a Lambda function assuming a role) caps the session at one hour anyway.
      MaxSessionDuration       = 3600
      AssumeRolePolicyDocument = local.trust_policy
      Policies                 = [{ PolicyName = var.name, PolicyDocument = local.cfn_policy }]
    },
    { for key, arn in { PermissionsBoundary = var.permissions_boundary } : key => arn if arn != null },
    { for key, tags in { Tags = [for k, v in var.tags : { Key = k, Value = v }] } : key => tags if length(var.tags) > 0 },
  )

  template_body = jsonencode({
    AWSTemplateFormatVersion = "2010-09-09"
    Description              = "access-analyzer-remediation member role (modules/member-role-stackset)"
    Resources = {
      MemberRole = { Type = "AWS::IAM::Role", Properties = local.role_properties }
    }
    Outputs = {
      RoleArn = { Value = { "Fn::GetAtt" = ["MemberRole", "Arn"] } }
    }
  })
}
