################################################################################
# Lambda execution role: only the calls listed in docs/architecture.md
################################################################################

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    sid     = "LambdaAssume"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name                 = "${var.name}-lambda"
  description          = "Execution role of the ${var.name} Lambda function"
  assume_role_policy   = data.aws_iam_policy_document.lambda_assume.json
  permissions_boundary = var.permissions_boundary

  tags = var.tags
}

data "aws_iam_policy_document" "lambda" {
  # GetFinding (verify an event or a sweep's finding reference) and ListFindingsV2 (the sweep).
  statement {
    sid       = "ReadFindings"
    actions   = ["access-analyzer:GetFinding", "access-analyzer:ListFindings"]
    resources = local.analyzer_arns
  }

  # Read a role's trust policy and write it back with the Deny added. Any role of the account can be the subject
  # of a finding; the Deny below takes out the ones that must never change.
  statement {
    sid       = "EditRoleTrustPolicies"
    actions   = ["iam:GetRole", "iam:UpdateAssumeRolePolicy"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/*"]
  }

  # Defence in depth: even a bug in the Lambda's guardrails cannot edit the tool's own roles, service-linked roles
  # (IAM refuses anyway) or a protected role (denying the management account's access to these would lock the
  # organization out). An explicit Deny wins over the Allow above.
  statement {
    sid     = "NeverEditProtectedRoles"
    effect  = "Deny"
    actions = ["iam:UpdateAssumeRolePolicy"]
    resources = distinct(concat(
      local.own_role_arns,
      ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/*"],
      local.protected_role_arns,
    ))
  }

  # S3 buckets and KMS keys, only for the types in resource_types (the calls of resources/s3_bucket.py and
  # resources/kms_key.py; tests/terraform/test_contract.py ties each action to a call there).
  # A bucket policy: GetBucketPolicy and PutBucketPolicy (the Deny), DeleteBucketPolicy (a revert that would leave an
  # empty policy, which S3 refuses to store), GetBucketTagging (the exemption tag). A bucket ARN names no account:
  # s3:ResourceAccount keeps the statement to the buckets of this account.
  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::S3::Bucket") ? [1] : []

    content {
      sid = "EditBucketPolicies"
      actions = [
        "s3:GetBucketPolicy",
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
        "s3:GetBucketTagging",
        "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        "s3:GetBucketAcl",
        "s3:PutBucketAcl",
      ]
      resources = ["arn:${local.partition}:s3:::*"]

      condition {
        test     = "StringEquals"
        variable = "s3:ResourceAccount"
        values   = [local.account_id]
      }
    }
  }

  # Defence in depth, as for roles: never the deployment's own buckets (none today) or a protected bucket.
  dynamic "statement" {
    for_each = (
      contains(var.resource_types, "AWS::S3::Bucket")
      && length(concat(local.own_bucket_arns, local.protected_bucket_arns)) > 0
    ) ? [1] : []

    content {
      sid       = "NeverEditProtectedBuckets"
      effect    = "Deny"
      actions   = ["s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketPublicAccessBlock", "s3:PutBucketAcl"]
      resources = distinct(concat(local.own_bucket_arns, local.protected_bucket_arns))
    }
  }

  # A key policy: DescribeKey (KeyManager: AWS managed keys are only reported; key state, multi-Region), GetKeyPolicy
  # and PutKeyPolicy (the Deny), ListResourceTags (the exemption tag), ListGrants (access a grant gives).
  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::KMS::Key") ? [1] : []

    content {
      sid = "EditKeyPolicies"
      actions = [
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
        "kms:PutKeyPolicy",
        "kms:ListResourceTags",
        "kms:ListGrants",
        "kms:RevokeGrant",
      ]
      resources = ["arn:${local.partition}:kms:*:${local.account_id}:key/*"]
    }
  }

  # Defence in depth: never the deployment's own keys (a changed topic key policy could silence the digests and the
  # alarms) or a protected key.
  dynamic "statement" {
    for_each = (
      contains(var.resource_types, "AWS::KMS::Key")
      && length(concat(local.own_kms_key_arns, local.protected_kms_key_arns)) > 0
    ) ? [1] : []

    content {
      sid       = "NeverEditProtectedKeys"
      effect    = "Deny"
      actions   = ["kms:PutKeyPolicy", "kms:RevokeGrant"]
      resources = distinct(concat(local.own_kms_key_arns, local.protected_kms_key_arns))
    }
  }

  # SQS queues (resources/sqs_queue.py): GetQueueUrl (the queue's URL), GetQueueAttributes and SetQueueAttributes
  # (the Policy attribute), ListQueueTags (the exemption tag). Never the deployment's own queues or a protected queue.
  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::SQS::Queue") ? [1] : []

    content {
      sid = "EditQueuePolicies"
      actions = [
        "sqs:GetQueueUrl",
        "sqs:GetQueueAttributes",
        "sqs:ListQueueTags",
        "sqs:SetQueueAttributes",
      ]
      resources = ["arn:${local.partition}:sqs:*:${local.account_id}:*"]
    }
  }

  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::SQS::Queue") && length(distinct(concat(local.own_queue_arns, local.protected_arns_by_service["sqs"]))) > 0 ? [1] : []

    content {
      sid       = "NeverEditOwnOrProtectedQueues"
      effect    = "Deny"
      actions   = ["sqs:SetQueueAttributes"]
      resources = distinct(concat(local.own_queue_arns, local.protected_arns_by_service["sqs"]))
    }
  }

  # SNS topics (resources/sns_topic.py): GetTopicAttributes and SetTopicAttributes (the Policy attribute),
  # ListTagsForResource (the exemption tag). Never the deployment's own topics (digests, alarms) or a protected one.
  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::SNS::Topic") ? [1] : []

    content {
      sid = "EditTopicPolicies"
      actions = [
        "sns:GetTopicAttributes",
        "sns:ListTagsForResource",
        "sns:SetTopicAttributes",
      ]
      resources = ["arn:${local.partition}:sns:*:${local.account_id}:*"]
    }
  }

  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::SNS::Topic") && length(distinct(concat(local.own_topic_arns, local.protected_arns_by_service["sns"]))) > 0 ? [1] : []

    content {
      sid       = "NeverEditOwnOrProtectedTopics"
      effect    = "Deny"
      actions   = ["sns:SetTopicAttributes"]
      resources = distinct(concat(local.own_topic_arns, local.protected_arns_by_service["sns"]))
    }
  }

  # Secrets Manager secrets (resources/secret.py): the resource policy (Get/Validate/Put, Delete for a revert that
  # leaves none), DescribeSecret (the exemption tag; never GetSecretValue).
  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::SecretsManager::Secret") ? [1] : []

    content {
      sid = "EditSecretPolicies"
      actions = [
        "secretsmanager:GetResourcePolicy",
        "secretsmanager:DescribeSecret",
        "secretsmanager:ValidateResourcePolicy",
        "secretsmanager:PutResourcePolicy",
        "secretsmanager:DeleteResourcePolicy",
      ]
      resources = ["arn:${local.partition}:secretsmanager:*:${local.account_id}:secret:*"]
    }
  }

  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::SecretsManager::Secret") && length(local.protected_arns_by_service["secretsmanager"]) > 0 ? [1] : []

    content {
      sid       = "NeverEditProtectedSecrets"
      effect    = "Deny"
      actions   = ["secretsmanager:PutResourcePolicy", "secretsmanager:DeleteResourcePolicy"]
      resources = local.protected_arns_by_service["secretsmanager"]
    }
  }

  # ECR repositories (resources/ecr_repository.py): the repository policy (Get/Set, never `force`; Delete for a
  # revert that leaves none), ListTagsForResource (the exemption tag).
  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::ECR::Repository") ? [1] : []

    content {
      sid = "EditRepositoryPolicies"
      actions = [
        "ecr:GetRepositoryPolicy",
        "ecr:ListTagsForResource",
        "ecr:SetRepositoryPolicy",
        "ecr:DeleteRepositoryPolicy",
      ]
      resources = ["arn:${local.partition}:ecr:*:${local.account_id}:repository/*"]
    }
  }

  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::ECR::Repository") && length(local.protected_arns_by_service["ecr"]) > 0 ? [1] : []

    content {
      sid       = "NeverEditProtectedRepositories"
      effect    = "Deny"
      actions   = ["ecr:SetRepositoryPolicy", "ecr:DeleteRepositoryPolicy"]
      resources = local.protected_arns_by_service["ecr"]
    }
  }

  # EFS file systems (resources/efs_file_system.py): the file system policy (Describe/Put, never bypassing the
  # lockout check; Delete for a revert that leaves none), ListTagsForResource (the exemption tag).
  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::EFS::FileSystem") ? [1] : []

    content {
      sid = "EditFileSystemPolicies"
      actions = [
        "elasticfilesystem:DescribeFileSystemPolicy",
        "elasticfilesystem:ListTagsForResource",
        "elasticfilesystem:PutFileSystemPolicy",
        "elasticfilesystem:DeleteFileSystemPolicy",
      ]
      resources = ["arn:${local.partition}:elasticfilesystem:*:${local.account_id}:file-system/*"]
    }
  }

  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::EFS::FileSystem") && length(local.protected_arns_by_service["elasticfilesystem"]) > 0 ? [1] : []

    content {
      sid       = "NeverEditProtectedFileSystems"
      effect    = "Deny"
      actions   = ["elasticfilesystem:PutFileSystemPolicy", "elasticfilesystem:DeleteFileSystemPolicy"]
      resources = local.protected_arns_by_service["elasticfilesystem"]
    }
  }

  # DynamoDB tables (resources/dynamodb_table.py): the resource policy (Get, conditional Put/Delete),
  # ListTagsOfResource (the exemption tag). Never the audit table or a protected table.
  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::DynamoDB::Table") ? [1] : []

    content {
      sid = "EditTablePolicies"
      actions = [
        "dynamodb:GetResourcePolicy",
        "dynamodb:ListTagsOfResource",
        "dynamodb:PutResourcePolicy",
        "dynamodb:DeleteResourcePolicy",
      ]
      resources = ["arn:${local.partition}:dynamodb:*:${local.account_id}:table/*"]
    }
  }

  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::DynamoDB::Table") && length(distinct(concat(local.own_table_arns, local.protected_arns_by_service["dynamodb"]))) > 0 ? [1] : []

    content {
      sid       = "NeverEditOwnOrProtectedTables"
      effect    = "Deny"
      actions   = ["dynamodb:PutResourcePolicy", "dynamodb:DeleteResourcePolicy"]
      resources = distinct(concat(local.own_table_arns, local.protected_arns_by_service["dynamodb"]))
    }
  }

  # DynamoDB streams (the same adapter): the stream's resource policy (streams carry no tags: ListTagsOfResource
  # is only called for tables, granted here as the module's one set of the adapter's calls).
  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::DynamoDB::Stream") ? [1] : []

    content {
      sid = "EditStreamPolicies"
      actions = [
        "dynamodb:GetResourcePolicy",
        "dynamodb:ListTagsOfResource",
        "dynamodb:PutResourcePolicy",
        "dynamodb:DeleteResourcePolicy",
      ]
      resources = ["arn:${local.partition}:dynamodb:*:${local.account_id}:table/*/stream/*"]
    }
  }

  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::DynamoDB::Stream") && length([for arn in distinct(concat(local.own_table_arns, local.protected_arns_by_service["dynamodb"])) : strcontains(arn, "/stream/") ? arn : "${arn}/stream/*"]) > 0 ? [1] : []

    content {
      sid       = "NeverEditOwnOrProtectedStreams"
      effect    = "Deny"
      actions   = ["dynamodb:PutResourcePolicy", "dynamodb:DeleteResourcePolicy"]
      resources = [for arn in distinct(concat(local.own_table_arns, local.protected_arns_by_service["dynamodb"])) : strcontains(arn, "/stream/") ? arn : "${arn}/stream/*"]
    }
  }

  # S3 directory buckets (resources/s3_directory_bucket.py): the bucket policy on the Zonal endpoint.
  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::S3Express::DirectoryBucket") ? [1] : []

    content {
      sid = "EditDirectoryBucketPolicies"
      actions = [
        "s3express:GetBucketPolicy",
        "s3express:PutBucketPolicy",
        "s3express:DeleteBucketPolicy",
      ]
      resources = ["arn:${local.partition}:s3express:*:${local.account_id}:bucket/*"]
    }
  }

  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::S3Express::DirectoryBucket") && length(local.protected_arns_by_service["s3express"]) > 0 ? [1] : []

    content {
      sid       = "NeverEditProtectedDirectoryBuckets"
      effect    = "Deny"
      actions   = ["s3express:PutBucketPolicy", "s3express:DeleteBucketPolicy"]
      resources = local.protected_arns_by_service["s3express"]
    }
  }

  # Lambda functions (resources/lambda_function.py): GetPolicy (the function policy and its RevisionId), ListTags (the
  # exemption tag), RemovePermission (the statement that grants the external principal, with RevisionId). Never
  # AddPermission: a revert re-adds the statement with the operator's credentials. Never the tool's own function.
  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::Lambda::Function") ? [1] : []

    content {
      sid       = "RemoveFunctionPermissions"
      actions   = ["lambda:GetPolicy", "lambda:ListTags", "lambda:RemovePermission"]
      resources = ["arn:${local.partition}:lambda:*:${local.account_id}:function:*"]
    }
  }

  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::Lambda::Function") ? [1] : []

    content {
      sid     = "NeverEditOwnOrProtectedFunctions"
      effect  = "Deny"
      actions = ["lambda:RemovePermission"]
      resources = distinct(flatten([
        for arn in concat(local.own_function_arns, [for a in local.protected_arns_by_service["lambda"] : a if strcontains(a, ":function:")]) :
        [arn, "${arn}:*"]
      ]))
    }
  }

  # Lambda layer versions (resources/lambda_layer_version.py): GetLayerVersionPolicy, RemoveLayerVersionPermission
  # (with RevisionId). Never AddLayerVersionPermission (the operator's, on revert).
  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::Lambda::LayerVersion") ? [1] : []

    content {
      sid       = "RemoveLayerVersionPermissions"
      actions   = ["lambda:GetLayerVersionPolicy", "lambda:RemoveLayerVersionPermission"]
      resources = ["arn:${local.partition}:lambda:*:${local.account_id}:layer:*:*"]
    }
  }

  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::Lambda::LayerVersion") && length([for a in local.protected_arns_by_service["lambda"] : a if strcontains(a, ":layer:")]) > 0 ? [1] : []

    content {
      sid     = "NeverEditProtectedLayerVersions"
      effect  = "Deny"
      actions = ["lambda:RemoveLayerVersionPermission"]
      # A layer ARN without a version protects every version, as the Lambda's guard reads it.
      resources = flatten([for a in local.protected_arns_by_service["lambda"] : [a, "${a}:*"] if strcontains(a, ":layer:")])
    }
  }

  # EBS snapshots (resources/ebs_snapshot.py): DescribeSnapshots (the exemption tag), DescribeSnapshotAttribute and
  # ModifySnapshotAttribute (createVolumePermission: the external account or `all` removed; a revert adds it back
  # with the same action). An EBS snapshot ARN names no account.
  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::EC2::Snapshot") ? [1] : []

    content {
      sid       = "EditSnapshotSharing"
      actions   = ["ec2:DescribeSnapshotAttribute", "ec2:ModifySnapshotAttribute"]
      resources = ["arn:${local.partition}:ec2:*::snapshot/*"]
    }
  }

  # DescribeSnapshots supports no resource-level permission: "*" (a read; it changes nothing).
  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::EC2::Snapshot") ? [1] : []

    content {
      sid       = "DescribeSnapshots"
      actions   = ["ec2:DescribeSnapshots"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::EC2::Snapshot") && length(local.protected_arns_by_service["ec2"]) > 0 ? [1] : []

    content {
      sid       = "NeverEditProtectedSnapshots"
      effect    = "Deny"
      actions   = ["ec2:ModifySnapshotAttribute"]
      resources = local.protected_arns_by_service["ec2"]
    }
  }

  # RDS DB and cluster snapshots (resources/rds_snapshot.py, one set of calls for both types): the `restore`
  # attribute read and changed (ValuesToRemove; a revert's ValuesToAdd, the same action), tags from Describe*.
  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::RDS::DBSnapshot") ? [1] : []

    content {
      sid = "EditDbSnapshotSharing"
      actions = [
        "rds:DescribeDBSnapshots",
        "rds:DescribeDBSnapshotAttributes",
        "rds:ModifyDBSnapshotAttribute",
        "rds:DescribeDBClusterSnapshots",
        "rds:DescribeDBClusterSnapshotAttributes",
        "rds:ModifyDBClusterSnapshotAttribute",
        "rds:ListTagsForResource",
      ]
      resources = ["arn:${local.partition}:rds:*:${local.account_id}:snapshot:*", "arn:${local.partition}:rds:*:${local.account_id}:cluster-snapshot:*"]
    }
  }

  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::RDS::DBSnapshot") && length(local.protected_arns_by_service["rds"]) > 0 ? [1] : []

    content {
      sid       = "NeverEditProtectedDbSnapshots"
      effect    = "Deny"
      actions   = ["rds:ModifyDBSnapshotAttribute", "rds:ModifyDBClusterSnapshotAttribute"]
      resources = local.protected_arns_by_service["rds"]
    }
  }

  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::RDS::DBClusterSnapshot") ? [1] : []

    content {
      sid = "EditClusterSnapshotSharing"
      actions = [
        "rds:DescribeDBSnapshots",
        "rds:DescribeDBSnapshotAttributes",
        "rds:ModifyDBSnapshotAttribute",
        "rds:DescribeDBClusterSnapshots",
        "rds:DescribeDBClusterSnapshotAttributes",
        "rds:ModifyDBClusterSnapshotAttribute",
        "rds:ListTagsForResource",
      ]
      resources = ["arn:${local.partition}:rds:*:${local.account_id}:snapshot:*", "arn:${local.partition}:rds:*:${local.account_id}:cluster-snapshot:*"]
    }
  }

  dynamic "statement" {
    for_each = contains(var.resource_types, "AWS::RDS::DBClusterSnapshot") && length(local.protected_arns_by_service["rds"]) > 0 ? [1] : []

    content {
      sid       = "NeverEditProtectedClusterSnapshots"
      effect    = "Deny"
      actions   = ["rds:ModifyDBSnapshotAttribute", "rds:ModifyDBClusterSnapshotAttribute"]
      resources = local.protected_arns_by_service["rds"]
    }
  }

  # The audit table: GetItem (state of a resource whose finding is no longer ACTIVE; the records of an outbox item),
  # UpdateItem (lease + intent, commit + release, outbox abandoned, subscription note), BatchWriteItem (audit records
  # and outbox items; outbox deletes), Query (the outbox). The table has no index: the table ARN is the resource.
  statement {
    sid = "AuditTable"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:UpdateItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:Query",
    ]
    resources = [local.table_arn]
  }

  # The digest e-mails.
  statement {
    sid       = "PublishDigest"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this.arn]
  }

  # Subscription safety: until the topic has a confirmed subscription the Lambda only reports
  # (require_confirmed_subscription), so it must be able to see the topic's subscriptions.
  statement {
    sid       = "CheckSubscriptions"
    actions   = ["sns:ListSubscriptionsByTopic"]
    resources = [aws_sns_topic.this.arn]
  }

  # The SQS event source mapping polls with the function's role.
  statement {
    sid       = "ConsumeQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [local.queue_arn]
  }

  # The sweep puts a reference to each ACTIVE finding on the same queue (SendMessageBatch needs sqs:SendMessage);
  # the queue policy lets no one else but the rule send.
  statement {
    sid       = "EnqueueSweptFindings"
    actions   = ["sqs:SendMessage"]
    resources = [local.queue_arn]
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda.arn}:*"]
  }

  # X-Ray has no resource-level permissions for these actions.
  dynamic "statement" {
    for_each = var.tracing_enabled ? [1] : []

    content {
      sid       = "XRayTracing"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }

  # Customer managed keys actually in use, each only through its service. Every service needs both actions:
  # GenerateDataKey to write (SNS Publish, the sweep's SQS SendMessage, DynamoDB writes) and Decrypt to read
  # (the polled SQS messages, DynamoDB reads, SNS's data key).
  dynamic "statement" {
    for_each = local.lambda_kms_keys

    content {
      sid       = "KmsVia${title(statement.key)}"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["${statement.key}.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "${var.name}-lambda"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json

  lifecycle {
    # Every protected pattern adds up to two ARNs to the Deny, every protected resource one: a long list could exceed
    # IAM's 10,240-character quota for a role's inline policies (whitespace not counted). Checked at apply when the
    # ARNs are known.
    precondition {
      condition     = length(replace(data.aws_iam_policy_document.lambda.json, "/\\s+/", "")) <= 10240
      error_message = "The Lambda role's policy exceeds IAM's 10,240-character inline policy quota: shorten protected_role_patterns (each adds up to two ARNs to the Deny statement) or protected_resource_arns (each adds one)."
    }
  }
}
