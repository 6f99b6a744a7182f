variable "region" {
  description = "AWS Region the stack set is managed from and its stack instances deploy in (IAM is global: one Region is enough)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS Region name such as us-east-1."
  }
}

variable "central_role_arn" {
  description = "The central deployment's `lambda_role_arn` output: the only principal the member roles trust."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", var.central_role_arn))
    error_message = "central_role_arn must be an IAM role ARN."
  }
}

variable "organization_id" {
  description = "The organization's id (o-...): the member roles also require aws:PrincipalOrgID."
  type        = string

  validation {
    condition     = can(regex("^o-[a-z0-9]{10,32}$", var.organization_id))
    error_message = "organization_id must be an AWS Organizations id (o-...)."
  }
}

variable "organizational_unit_ids" {
  description = "The organization root (r-...) or the OUs (ou-...) whose accounts get the member role."
  type        = list(string)

  validation {
    condition     = length(var.organizational_unit_ids) > 0
    error_message = "organizational_unit_ids must list at least one root or OU id."
  }
}
