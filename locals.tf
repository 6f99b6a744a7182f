locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.id

  # Every analyzer whose findings are remediated: the one created here (if any) plus the existing ones passed in.
  # Without a created analyzer the list (and the event pattern) is known before any resource exists, so
  # `terraform console` can render the pattern (tests/terraform/test_event_pattern.py).
  # The analyzers of other Regions whose events modules/regional forwards here come last: the first is the home one.
  analyzer_arns = concat(var.create_analyzer ? concat(aws_accessanalyzer_analyzer.this[*].arn, var.analyzer_arns) : var.analyzer_arns, var.regional_analyzer_arns)

  # The event rule's pattern (tests render it through moto's EventPattern). New-finding events may omit isDeleted,
  # so match it absent or false; deletion events keep status ACTIVE and carry isDeleted: true.
  event_pattern = jsonencode({
    source        = ["aws.access-analyzer"]
    "detail-type" = ["Access Analyzer Finding"]
    resources     = local.analyzer_arns
    detail = {
      status    = ["ACTIVE"]
      isDeleted = [{ exists = false }, false]
      # Prefix match: real events have been seen with stray whitespace after the type ("AWS::IAM::Role\n").
      resourceType = [for t in var.resource_types : { prefix = t }]
    }
  })

  powertools_layer_arn = "arn:${local.partition}:lambda:${local.region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-${var.architecture}:${var.powertools_layer_version}"
  lambda_layers        = var.lambda_layers == null ? [local.powertools_layer_arn] : var.lambda_layers

  # ARNs of the module's queues, table and function as AWS forms them, for the policy documents. Built from the names
  # instead of read from the resources: a data source that references a resource with a pending in-place change is
  # read only at apply time, so every policy built from it would show as "(known after apply)" in the plan although
  # nothing in it changes: the role policy on every change of the queue (a redrive policy returned reformatted, the
  # visibility timeout) or of the table (deletion protection off, the first step of an uninstall), the scheduler's
  # policy on every change of the function (a new zip, `mode`). These ARN formats are fixed; the integration tests
  # run the function and its event source mapping under these policies with IAM authorization enforced.
  sqs_arn_prefix = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:"
  queue_arn      = "${local.sqs_arn_prefix}${var.name}"
  events_dlq_arn = "${local.sqs_arn_prefix}${var.name}-events-dlq"
  table_arn      = "arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${var.name}-audit"
  function_arn   = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${var.name}"

  # Names of the account-global resources: IAM roles and the CloudWatch dashboard exist once per account, not per
  # Region, so the defaults carry the Region; two deployments in one account (two Regions, or two names in one
  # Region) never share one. Every other resource is regional and named after var.name alone.
  lambda_role_name    = coalesce(var.lambda_role_name, "${var.name}-lambda-${local.region}")
  scheduler_role_name = coalesce(var.scheduler_role_name, "${var.name}-scheduler-${local.region}")
  dashboard_name      = "${var.name}-${local.region}"

  # Analyzers whose events can never reach the rule: Access Analyzer puts a finding's event on the default bus of
  # the analyzer's own account and Region (an ORGANIZATION analyzer's in the delegated administrator's account), and
  # the rule is on the default bus of this deployment's account and Region.
  foreign_analyzer_arns = [
    for arn in var.analyzer_arns : arn
    if split(":", arn)[1] != local.partition || split(":", arn)[3] != local.region || split(":", arn)[4] != local.account_id
  ]
  # regional_analyzer_arns: forwarded by modules/regional, so of this account and partition and another Region (an
  # analyzer of this Region belongs in analyzer_arns: its events are on this bus already).
  foreign_regional_analyzer_arns = [
    for arn in var.regional_analyzer_arns : arn
    if split(":", arn)[1] != local.partition || split(":", arn)[3] == local.region || split(":", arn)[4] != local.account_id
  ]

  lambda_zip     = "${path.module}/lambda_dist/access-analyzer-remediation.zip"
  log_group_name = "/aws/lambda/${var.name}"

  # The tool's own roles: the Lambda never modifies them.
  own_role_arns = concat([aws_iam_role.lambda.arn], aws_iam_role.scheduler[*].arn)

  # protected_role_patterns as the role ARNs of the explicit Deny (modules/permissions computes them).
  protected_role_arns = module.permissions.protected_role_arns

  # The KMS keys and S3 buckets the deployment itself uses (AAR_OWN_RESOURCE_ARNS): the Lambda never modifies them, and
  # the role's explicit Deny makes IAM refuse it too. The topic's key when the module creates it (its ARN is known
  # only after apply, but the list's length is known at plan, so the Deny's dynamic block can be planned), and every
  # customer managed key passed in and in use. One key may serve several inputs (examples/complete): listed once.
  # The module uses no S3 bucket (the Lambda zip is uploaded with the function).
  own_kms_key_arns = concat(aws_kms_key.sns[*].arn, distinct(compact([
    var.create_sns_kms_key || !local.sns_uses_customer_key ? null : var.sns_kms_key_id,
    var.sqs_kms_key_arn,
    var.audit_table_kms_key_arn,
    var.log_kms_key_arn,
  ])))
  own_bucket_arns = []
  # The deployment's queues, topic, audit table and function (and an alarm topic passed in): a changed policy on one
  # of them could stop the pipeline, silence the digests or open the audit trail. Built from the names, as above.
  own_queue_arns    = [local.queue_arn, "${local.sqs_arn_prefix}${var.name}-dlq", local.events_dlq_arn]
  own_topic_arns    = distinct(compact(["arn:${local.partition}:sns:${local.region}:${local.account_id}:${var.name}", var.alarm_topic_arn]))
  own_table_arns    = [local.table_arn]
  own_function_arns = [local.function_arn]
  own_resource_arns = concat(
    local.own_kms_key_arns, local.own_bucket_arns, local.own_queue_arns, local.own_topic_arns, local.own_table_arns,
    local.own_function_arns,
  )

  # Exactly the variables of docs/architecture.md ("Environment"). AAR_QUEUE_URL: the sweep puts finding references on
  # the main queue, so they take the normal path (partial batch responses, redelivery, dead-letter queue) instead of
  # being processed inside the scheduler's single invocation.
  # lambda_settings: every variable but the (sensitive) ExternalId, which the outputs leave out.
  lambda_settings = {
    AAR_MODE                           = var.mode
    AAR_ANALYZER_ARNS                  = jsonencode(local.analyzer_arns)
    AAR_TRUSTED_ACCOUNT_IDS            = jsonencode(var.trusted_account_ids)
    AAR_TRUSTED_ORG_ID                 = var.trusted_organization_id
    AAR_PROTECTED_ROLE_PATTERNS        = jsonencode(var.protected_role_patterns)
    AAR_OWN_ROLE_ARNS                  = jsonencode(local.own_role_arns)
    AAR_RESOURCE_TYPES                 = jsonencode(var.resource_types)
    AAR_OWN_RESOURCE_ARNS              = jsonencode(local.own_resource_arns)
    AAR_PROTECTED_RESOURCE_ARNS        = jsonencode(var.protected_resource_arns)
    AAR_EXEMPTION_TAG_KEY              = var.exemption_tag_key
    AAR_ALLOWED_PRINCIPALS             = jsonencode(var.allowed_principals)
    AAR_AUDIT_TABLE_NAME               = aws_dynamodb_table.audit.name
    AAR_TOPIC_ARN                      = aws_sns_topic.this.arn
    AAR_QUEUE_URL                      = aws_sqs_queue.this.url
    AAR_REQUIRE_CONFIRMED_SUBSCRIPTION = var.require_confirmed_subscription ? "true" : "false"
    AAR_TRUST_POLICY_MAX_CHARS         = tostring(var.trust_policy_max_chars)
    AAR_AUDIT_RETENTION_DAYS           = tostring(var.audit_retention_days)
    AAR_LOCK_LEASE_SECONDS             = tostring(var.lock_lease_seconds)
    AAR_TRACING                        = var.tracing_enabled ? "true" : "false"
    AAR_MEMBER_ROLE_NAME               = var.member_role_name == null ? "" : var.member_role_name
    AAR_MANAGEMENT_ACCOUNT_ID          = var.management_account_id == null ? "" : var.management_account_id
    AAR_ALLOW_MANAGEMENT_ACCOUNT       = var.allow_management_account ? "true" : "false"
    AAR_ACCOUNT_MODES                  = jsonencode(var.account_modes)
    AAR_EXCLUDED_ACCOUNT_IDS           = jsonencode(var.excluded_account_ids)
    POWERTOOLS_SERVICE_NAME            = var.name
    POWERTOOLS_METRICS_NAMESPACE       = var.metrics_namespace
    POWERTOOLS_LOG_LEVEL               = var.log_level
  }
  lambda_environment = merge(local.lambda_settings, {
    AAR_MEMBER_ROLE_EXTERNAL_ID = var.member_role_external_id == null ? "" : var.member_role_external_id
  })

  # Customer managed keys the Lambda role must be able to use, per service (kms:ViaService).
  # The topic's key: the one created here, a given key ARN, or the AWS managed alias.
  sns_kms_key_id        = var.create_sns_kms_key ? one(aws_kms_key.sns[*].arn) : coalesce(var.sns_kms_key_id, "alias/aws/sns")
  sns_uses_customer_key = var.create_sns_kms_key || (var.sns_kms_key_id != null && var.sns_kms_key_id != "alias/aws/sns")
  lambda_kms_keys = {
    for service, key in {
      sns      = local.sns_uses_customer_key ? local.sns_kms_key_id : null
      sqs      = var.sqs_kms_key_arn
      dynamodb = var.audit_table_kms_key_arn
    } : service => key if key != null
  }

  alarm_topic_arn = coalesce(var.alarm_topic_arn, aws_sns_topic.this.arn)

  queue_visibility_timeout = min(43200, 6 * var.lambda_timeout + var.event_source_mapping.maximum_batching_window_in_seconds)
  # 4 days: the queue age alarm (queue_age_alarm_seconds) must fire before a waiting finding would expire.
  queue_message_retention_seconds = 345600
}
