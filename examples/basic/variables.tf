variable "region" {
  description = "AWS Region to deploy into (the analyzer and the rule see findings of this Region)."
  type        = string
  default     = "us-east-1"
}

variable "notification_email" {
  description = "E-mail address that receives the remediation digests (confirm the subscription from the mailbox)."
  type        = string
}
