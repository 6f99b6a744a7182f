provider "aws" {
  region = var.region
}

module "access_analyzer_remediation" {
  source = "../.."

  notification_email = var.notification_email
}
