# One deployment per Region, all in one account: Access Analyzer is regional and puts each analyzer's events on the
# default bus of its own Region, so every Region with resources to watch gets its own analyzer, rule, queue and
# function. The module's account-global names (the IAM roles, the dashboard) carry the Region, so the instances
# never collide.

provider "aws" {
  region = var.primary_region
}

provider "aws" {
  alias  = "secondary"
  region = var.secondary_region
}

module "primary" {
  source = "../.."

  notification_email = var.notification_email
}

module "secondary" {
  source = "../.."

  providers = {
    aws = aws.secondary
  }

  notification_email = var.notification_email
}
