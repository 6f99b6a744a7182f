# Organization mode: ONE central deployment in the delegated administrator account (usually the security or audit
# account) contains the findings of an ORGANIZATION analyzer, whose resources live in member accounts. The central
# Lambda assumes the member role in the account of each finding's resource (session name `aar-<finding id>`, so
# CloudTrail ties every write to its finding) and writes the Deny there; its ledger, audit table and topic stay here.
#
# Run with credentials of the delegated administrator account. The member role reaches the accounts three ways:
# - a service-managed StackSet (recommended): every account of the target OUs, and the accounts that join them later;
# - the management account, which service-managed StackSets never deploy to: its own role through its own provider,
#   only when its resources are to be contained (contain_management_account);
# - an account outside the target OUs (an invited account, or a sandbox): the member role through a provider that
#   assumes a role there; repeat the provider and the module block per account (providers cannot iterate).
locals {
  # The central Lambda assumes the member role by name in every account: one name for every rollout below.
  member_role_name = "access-analyzer-remediation-member"
}

# The delegated administrator account: the central deployment and the StackSet.
provider "aws" {
  region = var.region
}

# A second Region of the delegated administrator account (only with regional_region).
provider "aws" {
  alias  = "regional"
  region = coalesce(var.regional_region, var.region)
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# The organization's management account (only for its own member role).
provider "aws" {
  alias  = "management"
  region = var.region

  assume_role {
    role_arn = var.management_account_role_arn
  }
}

# One account outside the StackSet's target OUs.
provider "aws" {
  alias  = "member"
  region = var.region

  assume_role {
    role_arn = var.member_account_role_arn
  }
}

################################################################################
# The central deployment
################################################################################

module "central" {
  source = "../.."

  notification_email = var.notification_email
  mode               = var.mode

  # The ORGANIZATION analyzer of this Region (the delegated administrator may own it), or analyzers created elsewhere.
  create_analyzer = var.create_analyzer
  analyzer_type   = "ORGANIZATION"
  analyzer_arns   = var.analyzer_arns
  resource_types  = var.resource_types

  # The second Region's analyzers, whose findings modules/regional forwards to this Region's default bus.
  regional_analyzer_arns = flatten(module.regional[*].analyzer_arns)

  # In organization mode the zone of trust is the organization: sharing between its accounts is intended.
  trusted_organization_id = var.organization_id

  # Organization mode: assume the member role in the account of a finding's resource.
  member_role_name         = local.member_role_name
  member_role_external_id  = var.external_id
  management_account_id    = var.management_account_id
  allow_management_account = var.contain_management_account
  account_modes            = var.account_modes
  excluded_account_ids     = var.excluded_account_ids

  lambda_layers = var.lambda_layers
}

################################################################################
# A second Region: its ORGANIZATION analyzer, forwarded to the central deployment
################################################################################

# Regional resources (buckets, keys, ...) are analysed only where an analyzer exists. modules/regional creates this
# Region's ORGANIZATION analyzer and forwards its ACTIVE findings to the home Region's default bus; the central
# Lambda verifies them in their Region and contains them with clients of the resource's Region (through the same
# member roles: IAM is global). Copy the provider and this block per further Region.
module "regional" {
  source = "../../modules/regional"
  count  = var.regional_region == null ? 0 : 1

  providers = {
    aws = aws.regional
  }

  create_analyzer       = var.create_analyzer
  analyzer_type         = "ORGANIZATION"
  central_event_bus_arn = "arn:${data.aws_partition.current.partition}:events:${var.region}:${data.aws_caller_identity.current.account_id}:event-bus/default"
  resource_types        = var.resource_types
}

################################################################################
# The member role
################################################################################

# Recommended: every account of the target OUs, now and later. Run from the delegated administrator, which must
# also be a CloudFormation StackSets delegated administrator (call_as = "DELEGATED_ADMIN"); from the management
# account use call_as = "SELF" and that account's provider.
module "member_role_stack_set" {
  source = "../../modules/member-role-stackset"
  count  = length(var.organizational_unit_ids) > 0 ? 1 : 0

  call_as                 = "DELEGATED_ADMIN"
  organizational_unit_ids = var.organizational_unit_ids
  name                    = local.member_role_name
  central_role_arn        = module.central.lambda_role_arn
  resource_types          = var.resource_types
  organization_id         = var.organization_id
  external_id             = var.external_id
}

# The management account: service-managed StackSets never deploy there, even inside a targeted OU.
module "management_account_member_role" {
  source = "../../modules/member-role"
  count  = var.contain_management_account ? 1 : 0

  providers = {
    aws = aws.management
  }

  name             = local.member_role_name
  central_role_arn = module.central.lambda_role_arn
  resource_types   = var.resource_types
  organization_id  = var.organization_id
  external_id      = var.external_id
}

# An account outside the target OUs.
module "member_account_member_role" {
  source = "../../modules/member-role"
  count  = var.member_account_role_arn == null ? 0 : 1

  providers = {
    aws = aws.member
  }

  name             = local.member_role_name
  central_role_arn = module.central.lambda_role_arn
  resource_types   = var.resource_types
  organization_id  = var.organization_id
  external_id      = var.external_id
}
