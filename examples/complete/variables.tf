variable "region" {
  description = "AWS Region to deploy into."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name prefix of every resource."
  type        = string
  default     = "access-analyzer-remediation"
}

variable "notification_email" {
  description = "E-mail address that receives the remediation digests and the alarms."
  type        = string
}

variable "additional_notification_emails" {
  description = "Further e-mail addresses subscribed to the topic."
  type        = list(string)
  default     = []
}

variable "require_confirmed_subscription" {
  description = "Only report (notify mode) until the topic has a confirmed subscription; false where subscribers confirm elsewhere or are not e-mail (e.g. a local sandbox)."
  type        = bool
  default     = true
}

variable "confirm_changes" {
  description = "Confirm after writing (the module's confirm_changes): StartResourceScan, then a delayed check of the finding; a local sandbox whose tests share one queue turns it off."
  type = object({
    enabled          = optional(bool, true)
    delay_seconds    = optional(number, 300)
    deadline_seconds = optional(number, 3600)
  })
  default  = {}
  nullable = false
}

variable "mode" {
  description = "remediate or notify."
  type        = string
  default     = "remediate"
}

variable "create_analyzer" {
  description = "Create an ACCOUNT analyzer (false: use only analyzer_arns, e.g. in a local sandbox without Access Analyzer)."
  type        = bool
  default     = true
}

variable "analyzer_arns" {
  description = "Existing external-access analyzers to remediate as well."
  type        = list(string)
  default     = []
}

variable "resource_types" {
  description = "Resource types whose findings are contained (the module's resource_types): each adds exactly the calls of its adapter to the Lambda role."
  type        = list(string)
  default     = ["AWS::IAM::Role", "AWS::S3::Bucket", "AWS::KMS::Key"]
}

variable "trusted_account_ids" {
  description = "Account ids inside the zone of trust."
  type        = list(string)
  default     = []
}

variable "trusted_organization_id" {
  description = "Organization id inside the zone of trust (o-...), or empty."
  type        = string
  default     = ""
}

variable "allowed_principals" {
  description = "Principals whose access is intended (notify only)."
  type        = list(string)
  default     = []
}

variable "lambda_layers" {
  description = "Lambda layers; null = the public Powertools layer, [] = none (a local sandbox cannot resolve public layers)."
  type        = list(string)
  default     = null
}

variable "lambda_reserved_concurrency" {
  description = "Reserved concurrency of the Lambda (null = unreserved; new accounts with a concurrency quota of 10 cannot reserve any)."
  type        = number
  default     = null
}

variable "create_kms_key" {
  description = "Create one customer managed KMS key for the topic, queues, audit table and log group (false: AWS managed encryption)."
  type        = bool
  default     = true
}

variable "permissions_boundary" {
  description = "Permissions boundary policy ARN for the module's roles, or null."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every taggable resource."
  type        = map(string)
  default     = { Project = "access-analyzer-remediation" }
}
