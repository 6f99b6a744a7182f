# Run with credentials of the organization's management account (call_as = "SELF"); from a StackSets delegated
# administrator set call_as = "DELEGATED_ADMIN" and give the management account's member role its own provider.
provider "aws" {
  region = var.region
}

# Every account of the target OUs, and the accounts that join them later.
module "member_role_stack_set" {
  source = "../../modules/member-role-stackset"

  central_role_arn        = var.central_role_arn
  organization_id         = var.organization_id
  organizational_unit_ids = var.organizational_unit_ids
}

# A service-managed stack set never deploys to the management account, even inside a targeted OU: if its resources
# are to be contained too, it gets the same role directly (here through the same provider: this example runs in the
# management account).
module "management_account_member_role" {
  source = "../../modules/member-role"

  central_role_arn = var.central_role_arn
  organization_id  = var.organization_id
}
