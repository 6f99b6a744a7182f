# One central deployment (home Region) serving a second Region of the same account: modules/regional in the second
# Region creates its analyzer and forwards that analyzer's findings to the home Region's default event bus, where the
# central module's rule matches them (regional_analyzer_arns). One Lambda, queue, audit table and topic for both.

provider "aws" {
  region = var.home_region
}

provider "aws" {
  alias  = "regional"
  region = var.regional_region
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

module "regional" {
  source = "../../modules/regional"

  providers = {
    aws = aws.regional
  }

  central_event_bus_arn = "arn:${data.aws_partition.current.partition}:events:${var.home_region}:${data.aws_caller_identity.current.account_id}:event-bus/default"
  resource_types        = var.resource_types
}

module "central" {
  source = "../.."

  notification_email     = var.notification_email
  resource_types         = var.resource_types
  regional_analyzer_arns = module.regional.analyzer_arns
}
