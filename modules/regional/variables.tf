variable "name" {
  description = "Prefix of every resource name. The IAM role (account-global) also carries this Region, so instances in several Regions never collide; keep it the central deployment's `name` so the names group together."
  type        = string
  default     = "access-analyzer-remediation"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$", var.name))
    error_message = "name must be 1-32 characters: letters, digits, '-' and '_', starting with a letter or digit (the IAM role name <name>-forward-<region> must fit in 64)."
  }
}

variable "create_analyzer" {
  description = "Create an external-access Access Analyzer in this Region (named `analyzer_name`). Set false and pass `analyzer_arns` to forward the findings of existing analyzers."
  type        = bool
  default     = true
  nullable    = false
}

variable "analyzer_type" {
  description = "Type of the analyzer created when `create_analyzer` is true: ACCOUNT, or ORGANIZATION (only in the management or delegated administrator account)."
  type        = string
  default     = "ACCOUNT"
  nullable    = false

  validation {
    condition     = contains(["ACCOUNT", "ORGANIZATION"], var.analyzer_type)
    error_message = "analyzer_type must be ACCOUNT or ORGANIZATION."
  }
}

variable "analyzer_name" {
  description = "Name of the analyzer created when `create_analyzer` is true. null: `name`."
  type        = string
  default     = null

  validation {
    condition     = var.analyzer_name == null || can(regex("^[A-Za-z][A-Za-z0-9_.-]{0,254}$", coalesce(var.analyzer_name, "a")))
    error_message = "analyzer_name must be 1-255 characters: letters, digits, '_', '.' and '-', starting with a letter (or null)."
  }
}

variable "analyzer_arns" {
  description = "ARNs of existing external-access analyzers of this account and Region whose findings are forwarded, in addition to the analyzer the module creates (if any). Pass every forwarded analyzer (`analyzer_arns` output) to the central deployment's `regional_analyzer_arns`."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.analyzer_arns : can(regex("^arn:aws[a-z-]*:access-analyzer:[a-z0-9-]+:[0-9]{12}:analyzer/[A-Za-z0-9_.-]+$", arn))])
    error_message = "Every analyzer_arns entry must be an analyzer ARN: arn:<partition>:access-analyzer:<region>:<account>:analyzer/<name>."
  }

  validation {
    condition     = length(var.analyzer_arns) == length(distinct(var.analyzer_arns))
    error_message = "analyzer_arns must list each analyzer once."
  }
}

variable "central_event_bus_arn" {
  description = "ARN of the default event bus of the central deployment's (home) Region in this same account: arn:<partition>:events:<home region>:<account>:event-bus/default. The central module's event rule is on that bus."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/[A-Za-z0-9._/-]{1,256}$", var.central_event_bus_arn))
    error_message = "central_event_bus_arn must be an event bus ARN: arn:<partition>:events:<region>:<account>:event-bus/<name>."
  }

  validation {
    condition     = endswith(var.central_event_bus_arn, ":event-bus/default")
    error_message = "central_event_bus_arn must be the default event bus (arn:<partition>:events:<home region>:<account>:event-bus/default): the central module's rule is on the default bus, so events put on another bus never reach it."
  }
}

variable "resource_types" {
  description = "The central deployment's `resource_types`: the forwarding rule matches the findings of these types only, as the central rule does."
  type        = list(string)
  default     = ["AWS::IAM::Role", "AWS::S3::Bucket", "AWS::KMS::Key"]
  nullable    = false

  validation {
    condition     = length(var.resource_types) > 0 && length(var.resource_types) == length(distinct(var.resource_types))
    error_message = "resource_types must list at least one resource type, each once."
  }

  validation {
    condition = alltrue([for t in var.resource_types : contains([
      "AWS::S3::Bucket", "AWS::S3Express::DirectoryBucket", "AWS::IAM::Role", "AWS::KMS::Key", "AWS::Lambda::Function",
      "AWS::Lambda::LayerVersion", "AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::SecretsManager::Secret",
      "AWS::EFS::FileSystem", "AWS::ECR::Repository", "AWS::DynamoDB::Table", "AWS::DynamoDB::Stream",
      "AWS::EC2::Snapshot", "AWS::RDS::DBSnapshot", "AWS::RDS::DBClusterSnapshot",
    ], t)])
    error_message = "Every resource_types entry must be a resource type with external-access findings (AWS::IAM::Role, AWS::S3::Bucket, AWS::KMS::Key, ...)."
  }
}

variable "event_retry_policy" {
  description = "Retry policy of the forwarding target (the central event bus); events that still fail go to this Region's forwarding dead-letter queue."
  type = object({
    maximum_event_age_in_seconds = optional(number, 86400)
    maximum_retry_attempts       = optional(number, 185)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.event_retry_policy.maximum_event_age_in_seconds >= 60 && var.event_retry_policy.maximum_event_age_in_seconds <= 86400
    error_message = "event_retry_policy.maximum_event_age_in_seconds must be between 60 and 86400."
  }

  validation {
    condition     = var.event_retry_policy.maximum_retry_attempts >= 0 && var.event_retry_policy.maximum_retry_attempts <= 185
    error_message = "event_retry_policy.maximum_retry_attempts must be between 0 and 185."
  }
}

variable "sqs_kms_key_arn" {
  description = "ARN of a customer managed KMS key (of this Region) for the forwarding dead-letter queue; its key policy must let events.amazonaws.com call kms:GenerateDataKey and kms:Decrypt, or EventBridge cannot put failed events there. null: SQS managed encryption (SSE-SQS)."
  type        = string
  default     = null

  validation {
    condition     = var.sqs_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", coalesce(var.sqs_kms_key_arn, "-")))
    error_message = "sqs_kms_key_arn must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>) or null."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource."
  type        = map(string)
  default     = {}
  nullable    = false
}
