variable "primary_region" {
  description = "First AWS Region to deploy into (its analyzer, rule and function see findings of this Region)."
  type        = string
  default     = "us-east-1"
}

variable "secondary_region" {
  description = "Second AWS Region to deploy into, in the same account."
  type        = string
  default     = "eu-west-1"
}

variable "notification_email" {
  description = "E-mail address that receives the remediation digests of both Regions (confirm each subscription from the mailbox)."
  type        = string
}
