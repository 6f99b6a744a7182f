locals {
  # Every ARN below names var.account_id: the statements only reach the resources of the account whose role carries
  # them (the central deployment's account for the root module's Lambda role, a member account for member-role).
  arn_prefix = "arn:${var.partition}"

  # protected_role_patterns as IAM resource ARNs, so IAM itself refuses what the code must never do. A name pattern
  # P matches the role name under any path: role/P (path /) and role/*/P (IAM's `*` spans `/`, so this is every
  # deeper path). A path pattern /x/* already names path + name: role/x/*. Only `*` and `?` are allowed in the
  # patterns (variables.tf), and both mean the same in IAM's ArnLike matching as in the Lambda's glob.
  role_arn_prefix = "${local.arn_prefix}:iam::${var.account_id}:role/"
  protected_role_arns = distinct(flatten([
    for p in var.protected_role_patterns : startswith(p, "/")
    ? ["${local.role_arn_prefix}${trimprefix(p, "/")}"]
    : ["${local.role_arn_prefix}${p}", "${local.role_arn_prefix}*/${p}"]
  ]))

  # protected_resource_arns per service, for the explicit Denies (one statement per resource type).
  protected = {
    for service in ["s3", "kms", "sqs", "sns", "secretsmanager", "ecr", "elasticfilesystem", "dynamodb", "s3express", "lambda", "ec2", "rds"] :
    service => [for arn in var.protected_resource_arns : arn if split(":", arn)[2] == service]
  }

  own = var.own_resource_arns

  # Denied resources per type, before `distinct`: their lengths are known at plan even when an ARN is not (a key or
  # role still to be created), so whether a Deny exists is decided at plan and the policy document keeps its shape.
  denied_buckets   = concat(local.own.buckets, local.protected["s3"])
  denied_keys      = concat(local.own.kms_keys, local.protected["kms"])
  denied_queues    = concat(local.own.queues, local.protected["sqs"])
  denied_topics    = concat(local.own.topics, local.protected["sns"])
  denied_tables    = concat(local.own.tables, local.protected["dynamodb"])
  denied_streams   = [for arn in distinct(local.denied_tables) : strcontains(arn, "/stream/") ? arn : "${arn}/stream/*"]
  denied_functions = concat(local.own.functions, [for a in local.protected["lambda"] : a if strcontains(a, ":function:")])
  denied_layers    = [for a in local.protected["lambda"] : a if strcontains(a, ":layer:")]

  # A role's trust policy: any role of the account can be the subject of a finding; the Deny takes out the ones that
  # must never change. Not gated on resource_types: the root module always granted these (roles are contained by
  # every deployment), and the Lambda's guardrails read the same role lists.
  role_statements = [
    {
      sid        = "EditRoleTrustPolicies"
      effect     = "Allow"
      enabled    = true
      actions    = ["iam:GetRole", "iam:UpdateAssumeRolePolicy"]
      resources  = ["${local.role_arn_prefix}*"]
      conditions = []
    },
    # Defence in depth: even a bug in the Lambda's guardrails cannot edit the tool's own roles, service-linked roles
    # (IAM refuses anyway) or a protected role (denying the management account's access to these would lock the
    # organization out). An explicit Deny wins over the Allow above.
    {
      sid     = "NeverEditProtectedRoles"
      effect  = "Deny"
      enabled = true
      actions = ["iam:UpdateAssumeRolePolicy"]
      resources = distinct(concat(
        local.own.roles,
        ["${local.role_arn_prefix}aws-service-role/*"],
        local.protected_role_arns,
      ))
      conditions = []
    },
    # A member role can never widen itself: whatever else gets attached to it later, IAM refuses every write on the
    # role's own trust policy, policies, boundary, tags or existence made with its own credentials.
    {
      sid     = "NeverEditItself"
      effect  = "Deny"
      enabled = var.self_role_arn != null
      actions = [
        "iam:UpdateAssumeRolePolicy",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
        "iam:PutRolePermissionsBoundary",
        "iam:DeleteRolePermissionsBoundary",
        "iam:UpdateRole",
        "iam:UpdateRoleDescription",
        "iam:TagRole",
        "iam:UntagRole",
        "iam:DeleteRole",
      ]
      resources  = compact([var.self_role_arn])
      conditions = []
    },
  ]

  # The statements of each resource type, granted only while the type is in resource_types (the calls of
  # lambda_src/access_analyzer_remediation/resources/<type>.py; tests/terraform/test_contract.py ties each action to
  # a call there). Each Allow is followed by the type's explicit Deny on the deployment's own and protected
  # resources, present only when there is one to deny.
  type_statements = {
    # A bucket policy: GetBucketPolicy and PutBucketPolicy (the Deny), DeleteBucketPolicy (a revert that would leave
    # an empty policy, which S3 refuses to store), GetBucketTagging (the exemption tag). A bucket ARN names no
    # account: s3:ResourceAccount keeps the statement to the buckets of this account.
    "AWS::S3::Bucket" = [
      {
        sid     = "EditBucketPolicies"
        effect  = "Allow"
        enabled = true
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
        resources  = ["${local.arn_prefix}:s3:::*"]
        conditions = [{ test = "StringEquals", variable = "s3:ResourceAccount", values = [var.account_id] }]
      },
      {
        sid        = "NeverEditProtectedBuckets"
        effect     = "Deny"
        enabled    = length(local.denied_buckets) > 0
        actions    = ["s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketPublicAccessBlock", "s3:PutBucketAcl"]
        resources  = distinct(local.denied_buckets)
        conditions = []
      },
    ]

    # A key policy: DescribeKey (AWS managed keys are only reported; key state, multi-Region), GetKeyPolicy and
    # PutKeyPolicy (the Deny), ListResourceTags (the exemption tag), ListGrants and RevokeGrant (grant-based access).
    # Never the deployment's own keys (a changed topic key policy could silence the digests and the alarms).
    "AWS::KMS::Key" = [
      {
        sid     = "EditKeyPolicies"
        effect  = "Allow"
        enabled = true
        actions = [
          "kms:DescribeKey",
          "kms:GetKeyPolicy",
          "kms:PutKeyPolicy",
          "kms:ListResourceTags",
          "kms:ListGrants",
          "kms:RevokeGrant",
        ]
        resources  = ["${local.arn_prefix}:kms:*:${var.account_id}:key/*"]
        conditions = []
      },
      {
        sid        = "NeverEditProtectedKeys"
        effect     = "Deny"
        enabled    = length(local.denied_keys) > 0
        actions    = ["kms:PutKeyPolicy", "kms:RevokeGrant"]
        resources  = distinct(local.denied_keys)
        conditions = []
      },
    ]

    # SQS queues (resources/sqs_queue.py): GetQueueUrl (the queue's URL), GetQueueAttributes and SetQueueAttributes
    # (the Policy attribute), ListQueueTags (the exemption tag).
    "AWS::SQS::Queue" = [
      {
        sid        = "EditQueuePolicies"
        effect     = "Allow"
        enabled    = true
        actions    = ["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:ListQueueTags", "sqs:SetQueueAttributes"]
        resources  = ["${local.arn_prefix}:sqs:*:${var.account_id}:*"]
        conditions = []
      },
      {
        sid        = "NeverEditOwnOrProtectedQueues"
        effect     = "Deny"
        enabled    = length(local.denied_queues) > 0
        actions    = ["sqs:SetQueueAttributes"]
        resources  = distinct(local.denied_queues)
        conditions = []
      },
    ]

    # SNS topics (resources/sns_topic.py): GetTopicAttributes and SetTopicAttributes (the Policy attribute),
    # ListTagsForResource (the exemption tag).
    "AWS::SNS::Topic" = [
      {
        sid        = "EditTopicPolicies"
        effect     = "Allow"
        enabled    = true
        actions    = ["sns:GetTopicAttributes", "sns:ListTagsForResource", "sns:SetTopicAttributes"]
        resources  = ["${local.arn_prefix}:sns:*:${var.account_id}:*"]
        conditions = []
      },
      {
        sid        = "NeverEditOwnOrProtectedTopics"
        effect     = "Deny"
        enabled    = length(local.denied_topics) > 0
        actions    = ["sns:SetTopicAttributes"]
        resources  = distinct(local.denied_topics)
        conditions = []
      },
    ]

    # Secrets Manager secrets (resources/secret.py): the resource policy (Get/Validate/Put, Delete for a revert that
    # leaves none), DescribeSecret (the exemption tag; never GetSecretValue).
    "AWS::SecretsManager::Secret" = [
      {
        sid     = "EditSecretPolicies"
        effect  = "Allow"
        enabled = true
        actions = [
          "secretsmanager:GetResourcePolicy",
          "secretsmanager:DescribeSecret",
          "secretsmanager:ValidateResourcePolicy",
          "secretsmanager:PutResourcePolicy",
          "secretsmanager:DeleteResourcePolicy",
        ]
        resources  = ["${local.arn_prefix}:secretsmanager:*:${var.account_id}:secret:*"]
        conditions = []
      },
      {
        sid        = "NeverEditProtectedSecrets"
        effect     = "Deny"
        enabled    = length(local.protected["secretsmanager"]) > 0
        actions    = ["secretsmanager:PutResourcePolicy", "secretsmanager:DeleteResourcePolicy"]
        resources  = local.protected["secretsmanager"]
        conditions = []
      },
    ]

    # ECR repositories (resources/ecr_repository.py): the repository policy (Get/Set, never `force`; Delete for a
    # revert that leaves none), ListTagsForResource (the exemption tag).
    "AWS::ECR::Repository" = [
      {
        sid     = "EditRepositoryPolicies"
        effect  = "Allow"
        enabled = true
        actions = [
          "ecr:GetRepositoryPolicy",
          "ecr:ListTagsForResource",
          "ecr:SetRepositoryPolicy",
          "ecr:DeleteRepositoryPolicy",
        ]
        resources  = ["${local.arn_prefix}:ecr:*:${var.account_id}:repository/*"]
        conditions = []
      },
      {
        sid        = "NeverEditProtectedRepositories"
        effect     = "Deny"
        enabled    = length(local.protected["ecr"]) > 0
        actions    = ["ecr:SetRepositoryPolicy", "ecr:DeleteRepositoryPolicy"]
        resources  = local.protected["ecr"]
        conditions = []
      },
    ]

    # EFS file systems (resources/efs_file_system.py): the file system policy (Describe/Put, never bypassing the
    # lockout check; Delete for a revert that leaves none), ListTagsForResource (the exemption tag).
    "AWS::EFS::FileSystem" = [
      {
        sid     = "EditFileSystemPolicies"
        effect  = "Allow"
        enabled = true
        actions = [
          "elasticfilesystem:DescribeFileSystemPolicy",
          "elasticfilesystem:ListTagsForResource",
          "elasticfilesystem:PutFileSystemPolicy",
          "elasticfilesystem:DeleteFileSystemPolicy",
        ]
        resources  = ["${local.arn_prefix}:elasticfilesystem:*:${var.account_id}:file-system/*"]
        conditions = []
      },
      {
        sid        = "NeverEditProtectedFileSystems"
        effect     = "Deny"
        enabled    = length(local.protected["elasticfilesystem"]) > 0
        actions    = ["elasticfilesystem:PutFileSystemPolicy", "elasticfilesystem:DeleteFileSystemPolicy"]
        resources  = local.protected["elasticfilesystem"]
        conditions = []
      },
    ]

    # DynamoDB tables (resources/dynamodb_table.py): the resource policy (Get, conditional Put/Delete),
    # ListTagsOfResource (the exemption tag). Never the audit table or a protected table.
    "AWS::DynamoDB::Table" = [
      {
        sid     = "EditTablePolicies"
        effect  = "Allow"
        enabled = true
        actions = [
          "dynamodb:GetResourcePolicy",
          "dynamodb:ListTagsOfResource",
          "dynamodb:PutResourcePolicy",
          "dynamodb:DeleteResourcePolicy",
        ]
        resources  = ["${local.arn_prefix}:dynamodb:*:${var.account_id}:table/*"]
        conditions = []
      },
      {
        sid        = "NeverEditOwnOrProtectedTables"
        effect     = "Deny"
        enabled    = length(local.denied_tables) > 0
        actions    = ["dynamodb:PutResourcePolicy", "dynamodb:DeleteResourcePolicy"]
        resources  = distinct(local.denied_tables)
        conditions = []
      },
    ]

    # DynamoDB streams (the same adapter): the stream's resource policy (streams carry no tags: ListTagsOfResource
    # is only called for tables, granted here as the module's one set of the adapter's calls).
    "AWS::DynamoDB::Stream" = [
      {
        sid     = "EditStreamPolicies"
        effect  = "Allow"
        enabled = true
        actions = [
          "dynamodb:GetResourcePolicy",
          "dynamodb:ListTagsOfResource",
          "dynamodb:PutResourcePolicy",
          "dynamodb:DeleteResourcePolicy",
        ]
        resources  = ["${local.arn_prefix}:dynamodb:*:${var.account_id}:table/*/stream/*"]
        conditions = []
      },
      {
        sid        = "NeverEditOwnOrProtectedStreams"
        effect     = "Deny"
        enabled    = length(local.denied_tables) > 0
        actions    = ["dynamodb:PutResourcePolicy", "dynamodb:DeleteResourcePolicy"]
        resources  = local.denied_streams
        conditions = []
      },
    ]

    # S3 directory buckets (resources/s3_directory_bucket.py): the bucket policy on the Zonal endpoint.
    "AWS::S3Express::DirectoryBucket" = [
      {
        sid        = "EditDirectoryBucketPolicies"
        effect     = "Allow"
        enabled    = true
        actions    = ["s3express:GetBucketPolicy", "s3express:PutBucketPolicy", "s3express:DeleteBucketPolicy"]
        resources  = ["${local.arn_prefix}:s3express:*:${var.account_id}:bucket/*"]
        conditions = []
      },
      {
        sid        = "NeverEditProtectedDirectoryBuckets"
        effect     = "Deny"
        enabled    = length(local.protected["s3express"]) > 0
        actions    = ["s3express:PutBucketPolicy", "s3express:DeleteBucketPolicy"]
        resources  = local.protected["s3express"]
        conditions = []
      },
    ]

    # Lambda functions (resources/lambda_function.py): GetPolicy (the function policy and its RevisionId), ListTags
    # (the exemption tag), RemovePermission (the statement that grants the external principal, with RevisionId).
    # Never AddPermission: a revert re-adds the statement with the operator's credentials. Never the tool's own
    # function; a function ARN also stands for its versions and aliases (`:*`).
    "AWS::Lambda::Function" = [
      {
        sid        = "RemoveFunctionPermissions"
        effect     = "Allow"
        enabled    = true
        actions    = ["lambda:GetPolicy", "lambda:ListTags", "lambda:RemovePermission"]
        resources  = ["${local.arn_prefix}:lambda:*:${var.account_id}:function:*"]
        conditions = []
      },
      {
        sid        = "NeverEditOwnOrProtectedFunctions"
        effect     = "Deny"
        enabled    = length(local.denied_functions) > 0
        actions    = ["lambda:RemovePermission"]
        resources  = distinct(flatten([for arn in local.denied_functions : [arn, "${arn}:*"]]))
        conditions = []
      },
    ]

    # Lambda layer versions (resources/lambda_layer_version.py): GetLayerVersionPolicy, RemoveLayerVersionPermission
    # (with RevisionId). Never AddLayerVersionPermission (the operator's, on revert). A layer ARN without a version
    # protects every version, as the Lambda's guard reads it.
    "AWS::Lambda::LayerVersion" = [
      {
        sid        = "RemoveLayerVersionPermissions"
        effect     = "Allow"
        enabled    = true
        actions    = ["lambda:GetLayerVersionPolicy", "lambda:RemoveLayerVersionPermission"]
        resources  = ["${local.arn_prefix}:lambda:*:${var.account_id}:layer:*:*"]
        conditions = []
      },
      {
        sid        = "NeverEditProtectedLayerVersions"
        effect     = "Deny"
        enabled    = length(local.denied_layers) > 0
        actions    = ["lambda:RemoveLayerVersionPermission"]
        resources  = flatten([for a in local.denied_layers : [a, "${a}:*"]])
        conditions = []
      },
    ]

    # EBS snapshots (resources/ebs_snapshot.py): DescribeSnapshotAttribute and ModifySnapshotAttribute
    # (createVolumePermission: the external account or `all` removed; a revert adds it back with the same action).
    # An EBS snapshot ARN names no account. DescribeSnapshots (the exemption tag) supports no resource-level
    # permission: "*" (a read; it changes nothing).
    "AWS::EC2::Snapshot" = [
      {
        sid        = "EditSnapshotSharing"
        effect     = "Allow"
        enabled    = true
        actions    = ["ec2:DescribeSnapshotAttribute", "ec2:ModifySnapshotAttribute"]
        resources  = ["${local.arn_prefix}:ec2:*::snapshot/*"]
        conditions = []
      },
      {
        sid        = "DescribeSnapshots"
        effect     = "Allow"
        enabled    = true
        actions    = ["ec2:DescribeSnapshots"]
        resources  = ["*"]
        conditions = []
      },
      {
        sid        = "NeverEditProtectedSnapshots"
        effect     = "Deny"
        enabled    = length(local.protected["ec2"]) > 0
        actions    = ["ec2:ModifySnapshotAttribute"]
        resources  = local.protected["ec2"]
        conditions = []
      },
    ]

    # RDS DB and cluster snapshots (resources/rds_snapshot.py): the `restore` attribute read and changed
    # (ValuesToRemove; a revert's ValuesToAdd, the same action), tags from ListTagsForResource. Each type gets its own
    # calls on its own ARNs only.
    "AWS::RDS::DBSnapshot" = [
      {
        sid     = "EditDbSnapshotSharing"
        effect  = "Allow"
        enabled = true
        actions = [
          "rds:DescribeDBSnapshots",
          "rds:DescribeDBSnapshotAttributes",
          "rds:ModifyDBSnapshotAttribute",
          "rds:ListTagsForResource",
        ]
        resources  = ["${local.arn_prefix}:rds:*:${var.account_id}:snapshot:*"]
        conditions = []
      },
      {
        sid        = "NeverEditProtectedDbSnapshots"
        effect     = "Deny"
        enabled    = length(local.protected["rds"]) > 0
        actions    = ["rds:ModifyDBSnapshotAttribute"]
        resources  = local.protected["rds"]
        conditions = []
      },
    ]

    "AWS::RDS::DBClusterSnapshot" = [
      {
        sid     = "EditClusterSnapshotSharing"
        effect  = "Allow"
        enabled = true
        actions = [
          "rds:DescribeDBClusterSnapshots",
          "rds:DescribeDBClusterSnapshotAttributes",
          "rds:ModifyDBClusterSnapshotAttribute",
          "rds:ListTagsForResource",
        ]
        resources  = ["${local.arn_prefix}:rds:*:${var.account_id}:cluster-snapshot:*"]
        conditions = []
      },
      {
        sid        = "NeverEditProtectedClusterSnapshots"
        effect     = "Deny"
        enabled    = length(local.protected["rds"]) > 0
        actions    = ["rds:ModifyDBClusterSnapshotAttribute"]
        resources  = local.protected["rds"]
        conditions = []
      },
    ]
  }

  # The order the statements appear in the policy, whatever the order of resource_types: a reordered input never
  # rewrites the policy. (AWS::IAM::Role has no entry: role_statements are always granted.)
  type_order = [
    "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::SecretsManager::Secret",
    "AWS::ECR::Repository", "AWS::EFS::FileSystem", "AWS::DynamoDB::Table", "AWS::DynamoDB::Stream",
    "AWS::S3Express::DirectoryBucket", "AWS::Lambda::Function", "AWS::Lambda::LayerVersion", "AWS::EC2::Snapshot",
    "AWS::RDS::DBSnapshot", "AWS::RDS::DBClusterSnapshot",
  ]

  # The statements that apply, without the `enabled` flag (a Deny with nothing to deny would be an invalid
  # statement without Resource).
  statements = [
    for s in concat(local.role_statements, flatten([
      for t in local.type_order : local.type_statements[t] if contains(var.resource_types, t)
    ])) :
    { sid = s.sid, effect = s.effect, actions = s.actions, resources = s.resources, conditions = s.conditions }
    if s.enabled
  ]
}
