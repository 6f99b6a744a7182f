variable "region" {
  description = "Home Region of the central deployment (its analyzer, queue, function and table); the member roles are global."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS Region name such as us-east-1."
  }
}

variable "regional_region" {
  description = "A second Region whose ORGANIZATION analyzer modules/regional creates and forwards to the central deployment; null for none."
  type        = string
  default     = null

  validation {
    condition     = var.regional_region == null || can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", coalesce(var.regional_region, "-")))
    error_message = "regional_region must be an AWS Region name such as eu-west-1, or null."
  }
}

variable "notification_email" {
  description = "E-mail address subscribed to the central topic (every account's containments, each with its undo)."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.notification_email))
    error_message = "notification_email must be an e-mail address."
  }
}

variable "mode" {
  description = "`remediate` or `notify` for every account's resources (account_modes overrides it per account)."
  type        = string
  default     = "remediate"

  validation {
    condition     = contains(["remediate", "notify"], var.mode)
    error_message = "mode must be \"remediate\" or \"notify\"."
  }
}

variable "organization_id" {
  description = "The organization's id (o-...): the zone of trust of the central deployment, and the aws:PrincipalOrgID every member role requires."
  type        = string

  validation {
    condition     = can(regex("^o-[a-z0-9]{10,32}$", var.organization_id))
    error_message = "organization_id must be an AWS Organizations id (o-...)."
  }
}

variable "management_account_id" {
  description = "The organization's management account: its resources are never modified unless contain_management_account is true."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.management_account_id))
    error_message = "management_account_id must be a 12-digit account id."
  }
}

variable "contain_management_account" {
  description = "Contain findings of the management account's resources too: gives it the member role through the `management` provider (StackSets never deploy there)."
  type        = bool
  default     = false
  nullable    = false
}

variable "management_account_role_arn" {
  description = "A role in the management account Terraform assumes to create its member role (only used when contain_management_account is true), e.g. OrganizationAccountAccessRole."
  type        = string
  default     = null

  validation {
    condition     = var.management_account_role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", coalesce(var.management_account_role_arn, "-")))
    error_message = "management_account_role_arn must be an IAM role ARN or null."
  }
}

variable "organizational_unit_ids" {
  description = "The organization root (r-...) or the OUs (ou-...) whose accounts get the member role through the StackSet; [] for no StackSet."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for id in var.organizational_unit_ids : can(regex("^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$", id))])
    error_message = "Every organizational_unit_ids entry must be a root id (r-...) or an OU id (ou-...)."
  }
}

variable "member_account_role_arn" {
  description = "A role Terraform assumes in ONE account outside the target OUs to create its member role there (the `member` provider); null for none."
  type        = string
  default     = null

  validation {
    condition     = var.member_account_role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", coalesce(var.member_account_role_arn, "-")))
    error_message = "member_account_role_arn must be an IAM role ARN or null."
  }
}

variable "external_id" {
  description = "sts:ExternalId the central Lambda passes and every member role requires; null for none."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.external_id == null || can(regex("^[\\w+=,.@:/-]{2,1224}$", coalesce(var.external_id, "-")))
    error_message = "external_id must be 2-1224 characters of letters, digits and _ + = , . @ : / -, or null."
  }
}

variable "account_modes" {
  description = "Per-account mode: account id -> `remediate` or `notify` (e.g. notify-only for production accounts at first)."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for id, m in var.account_modes : can(regex("^[0-9]{12}$", id)) && contains(["remediate", "notify"], m)])
    error_message = "account_modes must map 12-digit account ids to \"remediate\" or \"notify\"."
  }
}

variable "excluded_account_ids" {
  description = "Accounts whose resources are never modified (their findings are recorded, not announced)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for id in var.excluded_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "Every excluded_account_ids entry must be a 12-digit account id."
  }
}

variable "resource_types" {
  description = "Resource types whose findings are contained: the central Lambda role and every member role get exactly the calls of these types."
  type        = list(string)
  default     = ["AWS::IAM::Role", "AWS::S3::Bucket", "AWS::KMS::Key"]
  nullable    = false

  validation {
    condition     = length(var.resource_types) > 0
    error_message = "resource_types must list at least one resource type."
  }
}

variable "create_analyzer" {
  description = "Create this Region's ORGANIZATION analyzer (the delegated administrator must be registered for access-analyzer.amazonaws.com); false to use analyzer_arns only."
  type        = bool
  default     = true
  nullable    = false
}

variable "analyzer_arns" {
  description = "Existing ORGANIZATION analyzers of this account and Region whose findings are contained as well."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.analyzer_arns : can(regex("^arn:aws[a-z-]*:access-analyzer:[a-z0-9-]+:[0-9]{12}:analyzer/[A-Za-z0-9_.-]+$", arn))])
    error_message = "Every analyzer_arns entry must be an analyzer ARN."
  }
}

variable "lambda_layers" {
  description = "Lambda layers of the central function; null = the public Powertools layer, [] = none (a local sandbox cannot resolve public layers)."
  type        = list(string)
  default     = null

  validation {
    condition     = var.lambda_layers == null || length(coalesce(var.lambda_layers, [])) <= 5
    error_message = "A Lambda function takes at most 5 layers."
  }
}
