variable "central_role_arn" {
  description = "ARN of the central deployment's Lambda execution role (the root module's `lambda_role_arn` output), the only principal this role trusts. An exact role ARN: no wildcards, no account root."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/([\\w+=,.@-]+/)*[\\w+=,.@-]{1,64}$", var.central_role_arn))
    error_message = "central_role_arn must be the ARN of one IAM role (arn:<partition>:iam::<12-digit account>:role/<path><name>), without wildcards."
  }
}

variable "organization_id" {
  description = "AWS Organizations id (`o-...`). When set, the trust policy also requires `aws:PrincipalOrgID` to be this organization: the central role must belong to it. null: no organization condition."
  type        = string
  default     = null

  validation {
    condition     = var.organization_id == null || can(regex("^o-[a-z0-9]{10,32}$", var.organization_id))
    error_message = "organization_id must be an AWS Organizations id (o- followed by 10-32 lowercase letters or digits) or null."
  }
}

variable "external_id" {
  description = "When set, the trust policy requires this `sts:ExternalId` on AssumeRole (the central Lambda must pass it). null: no ExternalId condition."
  type        = string
  default     = null

  validation {
    condition     = var.external_id == null || (length(coalesce(var.external_id, "-")) >= 2 && length(coalesce(var.external_id, "-")) <= 1224 && can(regex("^[\\w+=,.@:/-]+$", var.external_id)))
    error_message = "external_id must be 2-1224 characters of letters, digits and _ + = , . @ : / - (STS's ExternalId), or null."
  }
}

variable "name" {
  description = "Name of the member role. The central deployment assumes arn:<partition>:iam::<member account>:role<path><name>: keep it the same in every account."
  type        = string
  default     = "access-analyzer-remediation-member"
  nullable    = false

  validation {
    condition     = can(regex("^[\\w+=,.@-]{1,64}$", var.name))
    error_message = "name must be an IAM role name: 1-64 letters, digits and _ + = , . @ -."
  }
}

variable "path" {
  description = "IAM path of the member role."
  type        = string
  default     = "/"
  nullable    = false

  validation {
    condition     = can(regex("^/([\\w+=,.@-]+/)*$", var.path)) && length(var.path) <= 512
    error_message = "path must start and end with / (e.g. / or /security/), segments of letters, digits and _ + = , . @ -, at most 512 characters."
  }
}

variable "resource_types" {
  description = "The central deployment's `resource_types`: the role gets the remediation calls of these types only (AWS::IAM::Role's are always granted)."
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

variable "protected_role_patterns" {
  description = "The central deployment's `protected_role_patterns`: roles of this account the member role is denied iam:UpdateAssumeRolePolicy on (role/P and role/*/P per name pattern, role/<path + name> per path pattern). Service-linked roles and the member role itself are always denied."
  type        = list(string)
  default = [
    "OrganizationAccountAccessRole",
    "AWSControlTowerExecution",
    "aws-controltower-*",
    "AWSAFT*",
    "/aws-reserved/*",
    "AWSCloudFormationStackSetExecutionRole",
    "AWSCloudFormationStackSetAdministrationRole",
    "stacksets-exec-*",
  ]
  nullable = false

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
  description = "Resources of this account whose policies are never written: each gets its type's explicit Deny while the type is in `resource_types` (the central deployment's `protected_resource_arns` may list those of every account)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition = alltrue([for arn in var.protected_resource_arns : (
      can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", arn))
      || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", arn))
      || can(regex("^arn:aws[a-z-]*:(sqs|sns|secretsmanager|ecr|elasticfilesystem|dynamodb|s3express|lambda|ec2|rds):[a-z0-9-]+:[0-9]{0,12}:[^*?$\\s]+$", arn))
    )])
    error_message = "Every protected_resource_arns entry must be the ARN of a resource of a contained type, without wildcards."
  }

  validation {
    condition     = length(var.protected_resource_arns) == length(distinct(var.protected_resource_arns))
    error_message = "protected_resource_arns must list each ARN once."
  }
}

variable "permissions_boundary" {
  description = "ARN of a managed policy set as the role's permissions boundary (null: none)."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/", var.permissions_boundary))
    error_message = "permissions_boundary must be the ARN of an IAM managed policy or null."
  }
}

variable "tags" {
  description = "Tags of the member role."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition     = length(var.tags) <= 50 && alltrue([for k, v in var.tags : length(k) <= 128 && length(v) <= 256 && !startswith(k, "aws:")])
    error_message = "tags: at most 50, keys of at most 128 characters not starting with aws:, values of at most 256."
  }
}
