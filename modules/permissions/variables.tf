variable "resource_types" {
  description = "Access Analyzer resource types to grant the remediation calls of (the root module's `resource_types`). Roles' trust policies are always granted: a role is the one type every deployment contains."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.resource_types) == length(distinct(var.resource_types))
    error_message = "resource_types must list each resource type once."
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

variable "partition" {
  description = "AWS partition of the account whose resources are remediated (`aws`, `aws-cn`, `aws-us-gov`, ...)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^aws(-[a-z]+)*$", var.partition))
    error_message = "partition must be an AWS partition name such as aws, aws-cn or aws-us-gov."
  }
}

variable "account_id" {
  description = "Account whose resources the statements cover: a 12-digit account id, or the literal `$${AWS::AccountId}` for a CloudFormation template that resolves it in each account (modules/member-role-stackset)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id)) || var.account_id == "$${AWS::AccountId}"
    error_message = "account_id must be a 12-digit AWS account id or the CloudFormation placeholder $${AWS::AccountId}."
  }
}

variable "protected_role_patterns" {
  description = "Role name patterns (`*`, `?`) or path patterns (`/path/*`) denied iam:UpdateAssumeRolePolicy: each becomes role/P and role/*/P (a path pattern role/<path + name>). The root module's `protected_role_patterns`."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for p in var.protected_role_patterns : length(p) >= 1 && length(p) <= 128])
    error_message = "Every protected_role_patterns entry must be 1-128 characters."
  }

  # Only `*` and `?` mean the same in IAM's ArnLike matching as in the Lambda's glob (see the root variables.tf).
  validation {
    condition     = alltrue([for p in var.protected_role_patterns : can(regex("^(/([\\w+=,.@*?-]+/)*)?[\\w+=,.@*?-]+$", p))])
    error_message = "Every protected_role_patterns entry must be a role-name pattern of letters, digits and _ + = , . @ - with the wildcards * and ? (no [ ], no whitespace), or a path pattern /path/.../name."
  }
}

variable "protected_resource_arns" {
  description = "Resources other than roles whose policies are never written: each gets its type's explicit Deny while the type is in `resource_types`. The root module's `protected_resource_arns`."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition = alltrue([for arn in var.protected_resource_arns : (
      can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", arn))
      || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", arn))
      || can(regex("^arn:aws[a-z-]*:(sqs|sns|secretsmanager|ecr|elasticfilesystem|dynamodb|s3express|lambda|ec2|rds):[a-z0-9-]+:[0-9]{0,12}:[^*?\\s]+$", arn))
    )])
    error_message = "Every protected_resource_arns entry must be the ARN of a resource of a contained type, without wildcards."
  }
}

variable "own_resource_arns" {
  description = "The deployment's own resources, denied like protected ones (the Lambda never edits them): its roles (iam:UpdateAssumeRolePolicy), KMS keys, buckets, queues, topics, tables and functions (each only while its type is in `resource_types`)."
  type = object({
    roles     = optional(list(string), [])
    kms_keys  = optional(list(string), [])
    buckets   = optional(list(string), [])
    queues    = optional(list(string), [])
    topics    = optional(list(string), [])
    tables    = optional(list(string), [])
    functions = optional(list(string), [])
  })
  default  = {}
  nullable = false

  # ARNs, not names; unknown ARNs (resources still to be created) pass and are checked by IAM.
  validation {
    condition     = alltrue([for arn in flatten(values(var.own_resource_arns)) : startswith(arn, "arn:")])
    error_message = "Every own_resource_arns entry must be an ARN (arn:<partition>:<service>:...)."
  }
}

variable "self_role_arn" {
  description = "ARN of the role that will carry these statements when it is a member role (modules/member-role): it gets an explicit Deny of every IAM write on itself, so it can never widen its own trust policy or permissions. null for the central Lambda role, whose own roles are in `own_resource_arns.roles`."
  type        = string
  default     = null

  validation {
    condition     = var.self_role_arn == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|\\$\\{AWS::AccountId\\}):role/", var.self_role_arn))
    error_message = "self_role_arn must be an IAM role ARN (arn:<partition>:iam::<account>:role/<path><name>)."
  }
}
