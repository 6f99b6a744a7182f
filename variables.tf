################################################################################
# General
################################################################################

variable "name" {
  description = "Name of the deployment: the Lambda function, the analyzer and the SNS topic get this name; every other resource name starts with it."
  type        = string
  default     = "access-analyzer-remediation"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$", var.name))
    error_message = "name must be 1-48 characters: letters, digits, '-' and '_', starting with a letter or digit."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "mode" {
  description = "`remediate` adds the explicit Deny to the resource's policy (role trust policy, bucket policy, key policy); `notify` only computes and reports the change (AAR_MODE)."
  type        = string
  default     = "remediate"
  nullable    = false

  validation {
    condition     = contains(["remediate", "notify"], var.mode)
    error_message = "mode must be \"remediate\" or \"notify\"."
  }
}

################################################################################
# Access Analyzer and the event rule
################################################################################

variable "create_analyzer" {
  description = "Create an external-access Access Analyzer named `name`. Set false and pass `analyzer_arns` to use existing analyzers."
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

variable "analyzer_arns" {
  description = "ARNs of existing external-access analyzers whose findings are remediated, in addition to the analyzer the module creates (if any). The Lambda rejects events from any other analyzer (AAR_ANALYZER_ARNS)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.analyzer_arns : can(regex("^arn:aws[a-z-]*:access-analyzer:[a-z0-9-]+:[0-9]{12}:analyzer/[A-Za-z0-9_.-]+$", arn))])
    error_message = "Every analyzer_arns entry must be an analyzer ARN: arn:<partition>:access-analyzer:<region>:<account>:analyzer/<name>."
  }
}

variable "regional_analyzer_arns" {
  description = "ARNs of analyzers in other Regions of this account whose findings `modules/regional` forwards to this Region's default event bus (its `analyzer_arns` output). The rule matches their forwarded events; the Lambda verifies them with GetFinding in the analyzer's Region and contains them with clients of the resource's Region; the sweep lists them (all in AAR_ANALYZER_ARNS)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.regional_analyzer_arns : can(regex("^arn:aws[a-z-]*:access-analyzer:[a-z0-9-]+:[0-9]{12}:analyzer/[A-Za-z0-9_.-]+$", arn))])
    error_message = "Every regional_analyzer_arns entry must be an analyzer ARN: arn:<partition>:access-analyzer:<region>:<account>:analyzer/<name>."
  }

  validation {
    condition     = length(var.regional_analyzer_arns) == length(distinct(var.regional_analyzer_arns)) && length(setintersection(var.regional_analyzer_arns, var.analyzer_arns)) == 0
    error_message = "regional_analyzer_arns must list each analyzer once, and none of analyzer_arns."
  }
}

variable "resource_types" {
  description = "Access Analyzer resource types whose ACTIVE external-access findings are sent to the Lambda (the event rule's detail.resourceType; AAR_RESOURCE_TYPES). AWS::IAM::Role, AWS::S3::Bucket and AWS::KMS::Key are contained, and the Lambda role gets the calls of the listed ones only; any other listed type is reported by e-mail, never changed."
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
  description = "Retry policy of the EventBridge target (the SQS queue); events that still fail go to the events dead-letter queue."
  type = object({
    maximum_event_age_in_seconds = optional(number, 86400)
    maximum_retry_attempts       = optional(number, 185)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.event_retry_policy.maximum_event_age_in_seconds >= 60 && var.event_retry_policy.maximum_event_age_in_seconds <= 86400
    error_message = "event_retry_policy.maximum_event_age_in_seconds must be 60..86400."
  }

  validation {
    condition     = var.event_retry_policy.maximum_retry_attempts >= 0 && var.event_retry_policy.maximum_retry_attempts <= 185
    error_message = "event_retry_policy.maximum_retry_attempts must be 0..185."
  }
}

################################################################################
# Zone of trust and engine settings (Lambda environment)
################################################################################

variable "trusted_account_ids" {
  description = "Account ids inside the zone of trust: access from them is intended (AAR_TRUSTED_ACCOUNT_IDS). The resource owner account is always trusted."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for id in var.trusted_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "Every trusted_account_ids entry must be a 12-digit account id."
  }
}

variable "trusted_organization_id" {
  description = "AWS Organizations id inside the zone of trust (`o-...`), or empty for none (AAR_TRUSTED_ORG_ID)."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.trusted_organization_id == "" || can(regex("^o-[a-z0-9]{10,32}$", var.trusted_organization_id))
    error_message = "trusted_organization_id must be empty or match ^o-[a-z0-9]{10,32}$."
  }
}

################################################################################
# Organization mode: a central deployment contains findings of member accounts' resources
################################################################################

variable "member_role_name" {
  description = "Organization mode: name of the role (path /) the Lambda assumes in the account of a finding's resource when that is not this account (deploy it with modules/member-role or modules/member-role-stackset, same name). null: organization mode off, findings of other accounts' resources are reported only (AAR_MEMBER_ROLE_NAME). Needs management_account_id or allow_management_account."
  type        = string
  default     = null

  validation {
    condition     = var.member_role_name == null || can(regex("^[\\w+=,.@-]{1,64}$", coalesce(var.member_role_name, "-")))
    error_message = "member_role_name must be an IAM role name (1-64 letters, digits and _ + = , . @ -) or null."
  }
}

variable "member_role_external_id" {
  description = "Organization mode: the sts:ExternalId passed when assuming the member role (modules/member-role's external_id). null: none (AAR_MEMBER_ROLE_EXTERNAL_ID)."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.member_role_external_id == null || (length(coalesce(var.member_role_external_id, "-")) >= 2 && length(coalesce(var.member_role_external_id, "-")) <= 1224 && can(regex("^[\\w+=,.@:/-]+$", coalesce(var.member_role_external_id, "-"))))
    error_message = "member_role_external_id must be 2-1224 characters of letters, digits and _ + = , . @ : / - (STS's ExternalId), or null."
  }
}

variable "management_account_id" {
  description = "The organization's management account: its resources are never modified (their findings are reported) unless allow_management_account is true (AAR_MANAGEMENT_ACCOUNT_ID). null: not known; organization mode (member_role_name) then needs allow_management_account = true."
  type        = string
  default     = null

  validation {
    condition     = var.management_account_id == null || can(regex("^[0-9]{12}$", coalesce(var.management_account_id, "-")))
    error_message = "management_account_id must be a 12-digit account id or null."
  }
}

variable "allow_management_account" {
  description = "Contain findings of the management account's resources too (AAR_ALLOW_MANAGEMENT_ACCOUNT). A service-managed StackSet never deploys the member role there: apply modules/member-role to it directly."
  type        = bool
  default     = false
  nullable    = false
}

variable "account_modes" {
  description = "Per-account mode: account id -> `remediate` or `notify`, overriding `mode` for that account's resources (AAR_ACCOUNT_MODES). Until the topic has a confirmed subscription every account is notify-only (require_confirmed_subscription)."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition     = alltrue([for id, m in var.account_modes : can(regex("^[0-9]{12}$", id)) && contains(["remediate", "notify"], m)])
    error_message = "account_modes must map 12-digit account ids to \"remediate\" or \"notify\"."
  }
}

variable "excluded_account_ids" {
  description = "Accounts whose resources are never modified; their findings are recorded in the audit table, not announced (AAR_EXCLUDED_ACCOUNT_IDS)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for id in var.excluded_account_ids : can(regex("^[0-9]{12}$", id))]) && length(var.excluded_account_ids) == length(distinct(var.excluded_account_ids))
    error_message = "Every excluded_account_ids entry must be a 12-digit account id, each once."
  }
}

variable "protected_role_patterns" {
  description = "Roles the Lambda never modifies (AAR_PROTECTED_ROLE_PATTERNS); `*` and `?` are the only wildcards. A pattern starting with `/` matches path + name (`/aws-reserved/*`), any other pattern the role NAME under any path. The Lambda role also gets an explicit IAM Deny of iam:UpdateAssumeRolePolicy on each (`role/P` and `role/*/P`; IAM's `*` spans `/`, so the Deny may cover a little more than the code's match, never less). Service-linked roles and the module's own roles are always protected."
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

  # The same pattern is a glob in the Lambda and an IAM resource ARN in the Deny: only `*` and `?` mean the same in
  # both (`[...]` is a character class in the code but literal in IAM), and `$`, `{`, spaces or quotes would be
  # policy variables or invalid ARNs. Names use IAM's role-name characters [\w+=,.@-]; a path pattern is
  # `/segment/.../name`, every segment non-empty, so it always ends in a name part.
  validation {
    condition     = alltrue([for p in var.protected_role_patterns : can(regex("^(/([\\w+=,.@*?-]+/)*)?[\\w+=,.@*?-]+$", p))])
    error_message = "Every protected_role_patterns entry must be a role-name pattern of letters, digits and _ + = , . @ - with the wildcards * and ? (no [ ], no whitespace), or a path pattern /path/.../name (starting with /, segments of the same characters)."
  }
}

variable "protected_resource_arns" {
  description = "Resources other than roles that are never modified: their findings are only reported (AAR_PROTECTED_RESOURCE_ARNS). The ARN of an S3 bucket, KMS key, SQS queue, SNS topic, Secrets Manager secret, ECR repository, EFS file system, DynamoDB table or stream, S3 directory bucket, Lambda function or layer version, EBS snapshot or RDS DB / cluster snapshot. While the type is in `resource_types`, the Lambda role also carries an explicit Deny of the type's write actions on each of them. The deployment's own keys, queues, topic, table and function are always protected (AAR_OWN_RESOURCE_ARNS)."
  type        = list(string)
  default     = []
  nullable    = false

  # Exact ARNs, no wildcards: the Lambda compares them with the finding's resource, IAM with the call's.
  validation {
    condition = alltrue([for arn in var.protected_resource_arns : (
      can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", arn))
      || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", arn))
      || can(regex("^arn:aws[a-z-]*:(sqs|sns|secretsmanager|ecr|elasticfilesystem|dynamodb|s3express|lambda|ec2|rds):[a-z0-9-]+:[0-9]{0,12}:[^*?\\s]+$", arn))
    )])
    error_message = "Every protected_resource_arns entry must be the ARN of a resource of a contained type (arn:<partition>:s3:::<bucket>, arn:<partition>:kms:<region>:<account>:key/<id>, arn:<partition>:sqs:<region>:<account>:<queue>, ...), without wildcards."
  }

  validation {
    condition     = length(var.protected_resource_arns) == length(distinct(var.protected_resource_arns))
    error_message = "protected_resource_arns must list each ARN once."
  }
}

variable "exemption_tag_key" {
  description = "Roles, buckets and keys tagged with this key (any value but `false`) are intended: the Lambda only notifies (AAR_EXEMPTION_TAG_KEY)."
  type        = string
  default     = "access-analyzer-remediation:exempt"
  nullable    = false

  validation {
    condition     = can(regex("^[\\p{L}\\p{Z}\\p{N}_.:/=+@-]{1,128}$", var.exemption_tag_key)) && !startswith(var.exemption_tag_key, "aws:")
    error_message = "exemption_tag_key must be a valid IAM tag key (1-128 characters, not starting with aws:)."
  }
}

variable "allowed_principals" {
  description = "Principals whose access is intended (never denied, also excluded inside broader Denies): account ids, principal ARNs (`*` and `?` wildcards allowed) or federated provider names (AAR_ALLOWED_PRINCIPALS)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for p in var.allowed_principals : length(trimspace(p)) > 0])
    error_message = "allowed_principals entries must not be empty."
  }
}

variable "trust_policy_max_chars" {
  description = "The account's \"Role trust policy length\" IAM quota; the Lambda never writes a longer trust policy (AAR_TRUST_POLICY_MAX_CHARS)."
  type        = number
  default     = 2048
  nullable    = false

  validation {
    condition     = var.trust_policy_max_chars >= 2048 && var.trust_policy_max_chars <= 10240 && floor(var.trust_policy_max_chars) == var.trust_policy_max_chars
    error_message = "trust_policy_max_chars must be an integer 2048..10240."
  }
}

variable "audit_retention_days" {
  description = "Days an audit record is kept (DynamoDB TTL); 0 keeps records forever (AAR_AUDIT_RETENTION_DAYS)."
  type        = number
  default     = 365
  nullable    = false

  validation {
    condition     = var.audit_retention_days >= 0 && floor(var.audit_retention_days) == var.audit_retention_days
    error_message = "audit_retention_days must be an integer >= 0."
  }
}

variable "lock_lease_seconds" {
  description = "Lease of the per-role DynamoDB lock in seconds (AAR_LOCK_LEASE_SECONDS); at least `lambda_timeout`, so no invocation can write a trust policy after its lock has passed to another worker."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.lock_lease_seconds >= 5 && var.lock_lease_seconds <= 900 && floor(var.lock_lease_seconds) == var.lock_lease_seconds
    error_message = "lock_lease_seconds must be an integer 5..900."
  }
}

################################################################################
# Lambda
################################################################################

variable "architecture" {
  description = "Instruction set of the Lambda function: arm64 or x86_64 (also selects the Powertools layer)."
  type        = string
  default     = "arm64"
  nullable    = false

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "lambda_timeout" {
  description = "Lambda timeout in seconds. The queue's visibility timeout is six times this plus the batching window."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.lambda_timeout >= 10 && var.lambda_timeout <= 900 && floor(var.lambda_timeout) == var.lambda_timeout
    error_message = "lambda_timeout must be an integer 10..900."
  }
}

variable "lambda_memory_size" {
  description = "Lambda memory in MB."
  type        = number
  default     = 256
  nullable    = false

  validation {
    condition     = var.lambda_memory_size >= 128 && var.lambda_memory_size <= 10240 && floor(var.lambda_memory_size) == var.lambda_memory_size
    error_message = "lambda_memory_size must be an integer 128..10240."
  }
}

variable "lambda_reserved_concurrency" {
  description = "Reserved concurrent executions of the Lambda; null leaves it unreserved. When set it must be at least `event_source_mapping.maximum_concurrency`."
  type        = number
  default     = null

  validation {
    condition     = var.lambda_reserved_concurrency == null || try(var.lambda_reserved_concurrency >= 2 && floor(var.lambda_reserved_concurrency) == var.lambda_reserved_concurrency, false)
    error_message = "lambda_reserved_concurrency must be null or an integer >= 2."
  }
}

variable "lambda_layers" {
  description = "Layer ARNs of the Lambda. null uses the official public Powertools for AWS Lambda (Python) v3 layer for python3.13 and `architecture`, version `powertools_layer_version`; [] uses no layer (the package then needs aws-lambda-powertools some other way)."
  type        = list(string)
  default     = null

  validation {
    condition     = var.lambda_layers == null || alltrue([for l in coalesce(var.lambda_layers, []) : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9_-]+:[0-9]+$", l))])
    error_message = "lambda_layers must be null or a list of versioned layer ARNs (arn:<partition>:lambda:<region>:<account>:layer:<name>:<version>)."
  }

  validation {
    condition     = length(coalesce(var.lambda_layers, [])) <= 5
    error_message = "A Lambda function takes at most 5 layers."
  }
}

variable "powertools_layer_version" {
  description = "Version of the public Powertools layer arn:aws:lambda:<region>:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-<arch>:<version> used when `lambda_layers` is null."
  type        = number
  default     = 18
  nullable    = false

  validation {
    condition     = var.powertools_layer_version >= 1 && floor(var.powertools_layer_version) == var.powertools_layer_version
    error_message = "powertools_layer_version must be a positive integer."
  }
}

variable "tracing_enabled" {
  description = "Active X-Ray tracing of the Lambda and the Powertools Tracer (AAR_TRACING); grants xray:PutTraceSegments/PutTelemetryRecords."
  type        = bool
  default     = false
  nullable    = false
}

variable "log_level" {
  description = "Powertools log level (POWERTOOLS_LOG_LEVEL)."
  type        = string
  default     = "INFO"
  nullable    = false

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the Powertools metrics (POWERTOOLS_METRICS_NAMESPACE)."
  type        = string
  default     = "AccessAnalyzerRemediation"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_./#:-]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1-255 characters of letters, digits and _ . / # : - and must not start with AWS/."
  }
}

variable "log_retention_days" {
  description = "Retention of the Lambda log group /aws/lambda/<name> in days (0 = never expire)."
  type        = number
  default     = 365
  nullable    = false

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "log_kms_key_arn" {
  description = "ARN of a customer managed KMS key for the Lambda log group; null uses CloudWatch Logs' default encryption. The key policy must allow logs.<region>.amazonaws.com."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be null or a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}

variable "permissions_boundary" {
  description = "ARN of an IAM policy used as permissions boundary of the Lambda role and the scheduler role; null for none."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", var.permissions_boundary))
    error_message = "permissions_boundary must be null or an IAM policy ARN."
  }
}

# IAM is global: two deployments in one account (one per Region, or two names in one Region) need different role
# names. The defaults carry the Region; set these to keep the names of a deployment made before (UPGRADING.md).
variable "lambda_role_name" {
  description = "Name of the Lambda execution role; null for `<name>-lambda-<region>` (IAM role names are global to the account, so the default carries the Region). Set `<name>-lambda` to keep the role of a deployment made with 0.2.0 or earlier (UPGRADING.md)."
  type        = string
  default     = null

  validation {
    condition     = var.lambda_role_name == null || can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.lambda_role_name))
    error_message = "lambda_role_name must be null or an IAM role name: 1-64 characters, letters, digits and +=,.@_-."
  }
}

variable "scheduler_role_name" {
  description = "Name of the role EventBridge Scheduler uses for the sweep (with `enable_sweep`); null for `<name>-scheduler-<region>`. Set `<name>-scheduler` to keep the role of a deployment made with 0.2.0 or earlier (UPGRADING.md)."
  type        = string
  default     = null

  validation {
    condition     = var.scheduler_role_name == null || can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.scheduler_role_name))
    error_message = "scheduler_role_name must be null or an IAM role name: 1-64 characters, letters, digits and +=,.@_-."
  }
}

################################################################################
# Queue and event source mapping
################################################################################

variable "event_source_mapping" {
  description = "SQS -> Lambda event source mapping: records per batch, batching window in seconds (required >= 1 when batch_size > 10) and the maximum concurrent invocations (2..1000). Failed records are reported individually (ReportBatchItemFailures)."
  type = object({
    batch_size                         = optional(number, 10)
    maximum_batching_window_in_seconds = optional(number, 5)
    maximum_concurrency                = optional(number, 2)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.event_source_mapping.batch_size >= 1 && var.event_source_mapping.batch_size <= 10000
    error_message = "event_source_mapping.batch_size must be 1..10000."
  }

  validation {
    condition     = var.event_source_mapping.maximum_batching_window_in_seconds >= 0 && var.event_source_mapping.maximum_batching_window_in_seconds <= 300
    error_message = "event_source_mapping.maximum_batching_window_in_seconds must be 0..300."
  }

  validation {
    condition     = var.event_source_mapping.batch_size <= 10 || var.event_source_mapping.maximum_batching_window_in_seconds >= 1
    error_message = "event_source_mapping.batch_size above 10 needs maximum_batching_window_in_seconds >= 1."
  }

  validation {
    condition     = var.event_source_mapping.maximum_concurrency >= 2 && var.event_source_mapping.maximum_concurrency <= 1000
    error_message = "event_source_mapping.maximum_concurrency must be 2..1000."
  }
}

variable "max_receive_count" {
  description = "Receives of a message before the queue moves it to its dead-letter queue."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be an integer 1..1000."
  }
}

variable "sqs_kms_key_arn" {
  description = "ARN of a customer managed KMS key for the queues; null uses SQS managed encryption (SSE-SQS). The key policy must let events.amazonaws.com call kms:GenerateDataKey and kms:Decrypt."
  type        = string
  default     = null

  validation {
    condition     = var.sqs_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.sqs_kms_key_arn))
    error_message = "sqs_kms_key_arn must be null or a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}

################################################################################
# Notifications
################################################################################

variable "notification_email" {
  description = "E-mail address subscribed to the SNS topic (the subscription must be confirmed from the mailbox)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$", var.notification_email))
    error_message = "notification_email must be an e-mail address."
  }
}

variable "additional_notification_emails" {
  description = "Further e-mail addresses subscribed to the SNS topic."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for e in var.additional_notification_emails : can(regex("^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$", e))])
    error_message = "Every additional_notification_emails entry must be an e-mail address."
  }
}

variable "require_confirmed_subscription" {
  description = "Until the SNS topic has a confirmed subscription the Lambda only reports (notify mode) and says why: nothing is changed while nobody reads the digests (AAR_REQUIRE_CONFIRMED_SUBSCRIPTION). Set false when the topic's subscribers confirm elsewhere or are not e-mail."
  type        = bool
  default     = true
  nullable    = false
}

variable "create_sns_kms_key" {
  description = "Create a customer managed KMS key (rotation on) for the SNS topic that the Lambda and the module's CloudWatch alarms may use (CloudWatch cannot publish to a topic encrypted with the AWS managed key). Set false to use `sns_kms_key_id` instead."
  type        = bool
  default     = true
  nullable    = false
}

variable "sns_kms_key_id" {
  description = "With `create_sns_kms_key = false`: the topic's key. null or `alias/aws/sns` is the AWS managed key (no key to pay for, but CloudWatch alarms cannot publish to such a topic: set `alarm_topic_arn` or `create_alarms = false`); or the ARN of your own customer managed key (its policy must allow cloudwatch.amazonaws.com when the alarms notify this topic), on which the Lambda role gets kms:GenerateDataKey/Decrypt. Must be null when `create_sns_kms_key` is true."
  type        = string
  default     = null

  validation {
    condition     = var.sns_kms_key_id == null || var.sns_kms_key_id == "alias/aws/sns" || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.sns_kms_key_id))
    error_message = "sns_kms_key_id must be null, \"alias/aws/sns\" or a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}

################################################################################
# Audit table
################################################################################

variable "audit_table_kms_key_arn" {
  description = "ARN of a customer managed KMS key for the DynamoDB audit table; null uses the AWS managed key (alias/aws/dynamodb)."
  type        = string
  default     = null

  validation {
    condition     = var.audit_table_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.audit_table_kms_key_arn))
    error_message = "audit_table_kms_key_arn must be null or a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)."
  }
}

variable "audit_table_deletion_protection" {
  description = "Deletion protection of the DynamoDB audit table. While true, `terraform destroy` stops before it removes anything and says what to do: set this false (and `mode = \"notify\"`), apply, optionally `aa-remediate revert --all --yes`, then destroy (README, \"Uninstall\")."
  type        = bool
  default     = true
  nullable    = false
}

################################################################################
# Alarms
################################################################################

variable "create_alarms" {
  description = "Create CloudWatch alarms on the depth of both dead-letter queues, on Lambda errors, on digests that could not be published (the Powertools metric NotificationFailed) and on the age of the oldest message in the queue (`queue_age_alarm_seconds`)."
  type        = bool
  default     = true
  nullable    = false
}

variable "alarm_topic_arn" {
  description = "SNS topic the alarms notify; null uses the module's topic, which then needs a customer managed key (`create_sns_kms_key`, the default, or your key in `sns_kms_key_id`): CloudWatch cannot publish to a topic encrypted with alias/aws/sns, so `terraform plan` fails on that combination."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be null or an SNS topic ARN."
  }
}

variable "queue_age_alarm_seconds" {
  description = "Alarm when the oldest message in the queue is older than this many seconds (ApproximateAgeOfOldestMessage): findings are waiting and the pipeline is stuck (throttled, failing or out of concurrency). Must stay below the queue's 4-day message retention, or the alarm could never fire."
  type        = number
  default     = 3600
  nullable    = false

  validation {
    condition     = var.queue_age_alarm_seconds >= 60 && var.queue_age_alarm_seconds <= 1209600 && floor(var.queue_age_alarm_seconds) == var.queue_age_alarm_seconds
    error_message = "queue_age_alarm_seconds must be an integer 60..1209600."
  }
}

variable "create_dashboard" {
  description = "Create a CloudWatch dashboard named `<name>-<region>` (dashboards are global to the account): findings contained, notified and failed (in total and per reason, from the function's metrics), notices published and failed, the queue's pending findings and oldest message age, both dead-letter queues, the function's errors and the alarms' states."
  type        = bool
  default     = true
  nullable    = false
}

################################################################################
# Scheduled sweep
################################################################################

variable "enable_sweep" {
  description = "Invoke the Lambda with {\"aar_action\": \"sweep\"} on a schedule (EventBridge Scheduler): it puts a reference to every ACTIVE finding of the configured analyzers on the queue, including findings older than the event rule, and sends the notices still waiting in the outbox."
  type        = bool
  default     = true
  nullable    = false
}

variable "sweep_schedule_expression" {
  description = "Schedule of the sweep: rate(...), cron(...) or at(...)."
  type        = string
  default     = "rate(1 day)"
  nullable    = false

  validation {
    condition     = can(regex("^(rate|cron|at)\\(.+\\)$", var.sweep_schedule_expression))
    error_message = "sweep_schedule_expression must be rate(...), cron(...) or at(...)."
  }
}
