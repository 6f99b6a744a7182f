variable "home_region" {
  description = "Region of the central deployment (its analyzer, rule, queue, Lambda, audit table and topic)."
  type        = string
  default     = "us-east-1"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.home_region))
    error_message = "home_region must be a Region name such as us-east-1."
  }
}

variable "regional_region" {
  description = "Second Region of the same account, whose findings modules/regional forwards to the home Region."
  type        = string
  default     = "eu-west-1"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.regional_region))
    error_message = "regional_region must be a Region name such as eu-west-1."
  }
}

variable "notification_email" {
  description = "E-mail address that receives the remediation digests of both Regions (one topic, in the home Region)."
  type        = string
}

variable "resource_types" {
  description = "Resource types contained (the central module's resource_types; the forwarding rule matches the same)."
  type        = list(string)
  default     = ["AWS::IAM::Role", "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::SQS::Queue"]
  nullable    = false
}
