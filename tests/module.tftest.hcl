# Plans/applies of the module against a mocked AWS provider: what the inputs ask for is what gets built.
# Computed attributes get realistic values so ARNs, JSON and names read like the real thing.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }

  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333", arn = "arn:aws:iam::111122223333:user/terraform" }
  }

  mock_data "aws_region" {
    defaults = { id = "us-west-2", name = "us-west-2" }
  }

  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }

  mock_resource "aws_accessanalyzer_analyzer" {
    defaults = { arn = "arn:aws:access-analyzer:us-west-2:111122223333:analyzer/access-analyzer-remediation" }
  }

  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:us-west-2:111122223333:key/55555555-5555-5555-5555-555555555555" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-west-2:111122223333:access-analyzer-remediation" }
  }

  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:us-west-2:111122223333:table/access-analyzer-remediation-audit" }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-west-2:111122223333:log-group:/aws/lambda/access-analyzer-remediation" }
  }

  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:us-west-2:111122223333:rule/access-analyzer-remediation" }
  }

  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:us-west-2:111122223333:function:access-analyzer-remediation" }
  }

  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:us-west-2:111122223333:access-analyzer-remediation"
      url = "https://sqs.us-west-2.amazonaws.com/111122223333/access-analyzer-remediation"
    }
  }

  override_resource {
    target = aws_iam_role.lambda
    values = { arn = "arn:aws:iam::111122223333:role/access-analyzer-remediation-lambda-us-west-2" }
  }

  override_resource {
    target = aws_iam_role.scheduler
    values = { arn = "arn:aws:iam::111122223333:role/access-analyzer-remediation-scheduler-us-west-2" }
  }
}

variables {
  notification_email = "security@example.com"
}

run "defaults" {
  command = apply

  assert {
    condition     = length(aws_accessanalyzer_analyzer.this) == 1 && aws_accessanalyzer_analyzer.this[0].type == "ACCOUNT"
    error_message = "An ACCOUNT analyzer is created by default."
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.this.event_pattern) == jsondecode(local.event_pattern)
    error_message = "The rule uses local.event_pattern."
  }

  assert {
    condition = jsondecode(local.event_pattern) == {
      source        = ["aws.access-analyzer"]
      "detail-type" = ["Access Analyzer Finding"]
      resources     = ["arn:aws:access-analyzer:us-west-2:111122223333:analyzer/access-analyzer-remediation"]
      detail = {
        status       = ["ACTIVE"]
        isDeleted    = [{ exists = false }, false]
        resourceType = [{ prefix = "AWS::IAM::Role" }, { prefix = "AWS::S3::Bucket" }, { prefix = "AWS::KMS::Key" }]
      }
    }
    error_message = "Event pattern: ACTIVE, not deleted, IAM roles, S3 buckets and KMS keys, from the created analyzer."
  }

  assert {
    condition = aws_lambda_function.this.environment[0].variables == tomap({
      AAR_MODE                           = "remediate"
      AAR_ANALYZER_ARNS                  = "[\"arn:aws:access-analyzer:us-west-2:111122223333:analyzer/access-analyzer-remediation\"]"
      AAR_TRUSTED_ACCOUNT_IDS            = "[]"
      AAR_TRUSTED_ORG_ID                 = ""
      AAR_PROTECTED_ROLE_PATTERNS        = "[\"OrganizationAccountAccessRole\",\"AWSControlTowerExecution\",\"aws-controltower-*\",\"AWSAFT*\",\"/aws-reserved/*\",\"AWSCloudFormationStackSetExecutionRole\",\"AWSCloudFormationStackSetAdministrationRole\",\"stacksets-exec-*\"]"
      AAR_OWN_ROLE_ARNS                  = "[\"arn:aws:iam::111122223333:role/access-analyzer-remediation-lambda-us-west-2\",\"arn:aws:iam::111122223333:role/access-analyzer-remediation-scheduler-us-west-2\"]"
      AAR_RESOURCE_TYPES                 = "[\"AWS::IAM::Role\",\"AWS::S3::Bucket\",\"AWS::KMS::Key\"]"
      AAR_OWN_RESOURCE_ARNS              = "[\"arn:aws:kms:us-west-2:111122223333:key/55555555-5555-5555-5555-555555555555\",\"arn:aws:sqs:us-west-2:111122223333:access-analyzer-remediation\",\"arn:aws:sqs:us-west-2:111122223333:access-analyzer-remediation-dlq\",\"arn:aws:sqs:us-west-2:111122223333:access-analyzer-remediation-events-dlq\",\"arn:aws:sns:us-west-2:111122223333:access-analyzer-remediation\",\"arn:aws:dynamodb:us-west-2:111122223333:table/access-analyzer-remediation-audit\",\"arn:aws:lambda:us-west-2:111122223333:function:access-analyzer-remediation\"]"
      AAR_PROTECTED_RESOURCE_ARNS        = "[]"
      AAR_EXEMPTION_TAG_KEY              = "access-analyzer-remediation:exempt"
      AAR_ALLOWED_PRINCIPALS             = "[]"
      AAR_AUDIT_TABLE_NAME               = "access-analyzer-remediation-audit"
      AAR_TOPIC_ARN                      = "arn:aws:sns:us-west-2:111122223333:access-analyzer-remediation"
      AAR_QUEUE_URL                      = "https://sqs.us-west-2.amazonaws.com/111122223333/access-analyzer-remediation"
      AAR_REQUIRE_CONFIRMED_SUBSCRIPTION = "true"
      AAR_TRUST_POLICY_MAX_CHARS         = "2048"
      AAR_AUDIT_RETENTION_DAYS           = "365"
      AAR_LOCK_LEASE_SECONDS             = "60"
      AAR_TRACING                        = "false"
      AAR_MEMBER_ROLE_NAME               = ""
      AAR_MEMBER_ROLE_EXTERNAL_ID        = ""
      AAR_MANAGEMENT_ACCOUNT_ID          = ""
      AAR_ALLOW_MANAGEMENT_ACCOUNT       = "false"
      AAR_ACCOUNT_MODES                  = "{}"
      AAR_EXCLUDED_ACCOUNT_IDS           = "[]"
      AAR_MODE_RULES                     = "[]"
      AAR_APPROVAL_TIMEOUT_HOURS         = ""
      AAR_ON_TIMEOUT                     = "expire"
      AAR_PROVE_CHANGES                  = "true"
      AAR_CONFIRM_CHANGES                = "true"
      AAR_CONFIRM_DELAY_SECONDS          = "300"
      AAR_CONFIRM_DEADLINE_SECONDS       = "3600"
      POWERTOOLS_SERVICE_NAME            = "access-analyzer-remediation"
      POWERTOOLS_METRICS_NAMESPACE       = "AccessAnalyzerRemediation"
      POWERTOOLS_LOG_LEVEL               = "INFO"
    })
    error_message = "The Lambda environment is exactly the contract's variables with the default values."
  }

  assert {
    condition = (
      aws_lambda_function.this.runtime == "python3.13"
      && aws_lambda_function.this.handler == "access_analyzer_remediation.handler.lambda_handler"
      && aws_lambda_function.this.architectures == tolist(["arm64"])
      && aws_lambda_function.this.reserved_concurrent_executions == -1
      && aws_lambda_function.this.tracing_config[0].mode == "PassThrough"
      && aws_lambda_function.this.source_code_hash == filebase64sha256("${path.module}/lambda_dist/access-analyzer-remediation.zip")
    )
    error_message = "Lambda: python3.13, the package handler, arm64, unreserved, no tracing, the committed zip."
  }

  assert {
    condition     = aws_lambda_function.this.layers == tolist(["arn:aws:lambda:us-west-2:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:18"])
    error_message = "The default layer is the public Powertools v3 python3.13 arm64 layer of the Region."
  }

  assert {
    condition     = aws_cloudwatch_log_group.lambda.name == "/aws/lambda/access-analyzer-remediation" && aws_cloudwatch_log_group.lambda.retention_in_days == 365
    error_message = "The log group is /aws/lambda/<name> with 365 days retention."
  }

  assert {
    condition = (
      aws_lambda_event_source_mapping.this.function_response_types == toset(["ReportBatchItemFailures"])
      && aws_lambda_event_source_mapping.this.batch_size == 10
      && aws_lambda_event_source_mapping.this.maximum_batching_window_in_seconds == 5
      && aws_lambda_event_source_mapping.this.scaling_config[0].maximum_concurrency == 2
      && aws_lambda_event_source_mapping.this.event_source_arn == aws_sqs_queue.this.arn
    )
    error_message = "The event source mapping reports item failures with the default batching and concurrency."
  }

  assert {
    condition = (
      jsondecode(aws_sqs_queue.this.redrive_policy).maxReceiveCount == 5
      && aws_sqs_queue.this.visibility_timeout_seconds == 6 * 60 + 5
      && aws_sqs_queue.this.sqs_managed_sse_enabled
      && aws_sqs_queue.dlq.sqs_managed_sse_enabled
      && aws_sqs_queue.events_dlq.sqs_managed_sse_enabled
    )
    error_message = "Queues: SSE-SQS, redrive after 5 receives, visibility 6 x timeout + window."
  }

  assert {
    condition = (
      aws_cloudwatch_event_target.this.arn == aws_sqs_queue.this.arn
      && aws_cloudwatch_event_target.this.dead_letter_config[0].arn == aws_sqs_queue.events_dlq.arn
      && aws_cloudwatch_event_target.this.retry_policy[0].maximum_retry_attempts == 185
      && aws_cloudwatch_event_target.this.retry_policy[0].maximum_event_age_in_seconds == 86400
    )
    error_message = "The rule targets the queue with a retry policy and its own dead-letter queue."
  }

  assert {
    condition = alltrue([for doc in data.aws_iam_policy_document.queue : (
      one(doc.statement[0].principals).identifiers == toset(["events.amazonaws.com"])
      && one(doc.statement[0].condition).values == tolist(["arn:aws:events:us-west-2:111122223333:rule/access-analyzer-remediation"])
    )])
    error_message = "Only the rule (aws:SourceArn) may send to the queue and the events DLQ."
  }

  assert {
    condition = [
      for s in data.aws_iam_policy_document.queue["queue"].statement : {
        actions    = s.actions
        resources  = s.resources
        principals = [for p in s.principals : [p.type, p.identifiers]]
        conditions = { for c in s.condition : c.variable => [c.test, c.values] }
      } if s.sid == "DenySendExceptRuleAndLambda" && s.effect == "Deny"
      ] == [{
        actions    = toset(["sqs:SendMessage"])
        resources  = toset(["arn:aws:sqs:us-west-2:111122223333:access-analyzer-remediation"])
        principals = [["*", toset(["*"])]]
        conditions = {
          "aws:SourceArn"    = ["ArnNotEqualsIfExists", tolist(["arn:aws:events:us-west-2:111122223333:rule/access-analyzer-remediation"])]
          "aws:PrincipalArn" = ["ArnNotEqualsIfExists", tolist(["arn:aws:iam::111122223333:role/access-analyzer-remediation-lambda-us-west-2"])]
        }
    }]
    error_message = "The main queue denies sqs:SendMessage to every caller that is neither the rule nor the Lambda role (one Deny, both keys under ArnNotEqualsIfExists)."
  }

  assert {
    condition     = !contains([for s in data.aws_iam_policy_document.queue["events_dlq"].statement : s.sid], "DenySendExceptRuleAndLambda")
    error_message = "The events DLQ keeps its policy: only the rule may send (no Lambda exception)."
  }

  assert {
    condition = {
      for s in data.aws_iam_policy_document.lambda.statement : s.sid => jsonencode([coalesce(s.effect, "Allow"), sort(s.actions), sort(s.resources)])
      } == {
      ReadFindings          = jsonencode(["Allow", ["access-analyzer:GetFinding", "access-analyzer:ListFindings"], ["arn:aws:access-analyzer:us-west-2:111122223333:analyzer/access-analyzer-remediation"]])
      EditRoleTrustPolicies = jsonencode(["Allow", ["iam:GetRole", "iam:UpdateAssumeRolePolicy"], ["arn:aws:iam::111122223333:role/*"]])
      NeverEditProtectedRoles = jsonencode(["Deny", ["iam:UpdateAssumeRolePolicy"], sort(concat([
        "arn:aws:iam::111122223333:role/access-analyzer-remediation-lambda-us-west-2",
        "arn:aws:iam::111122223333:role/access-analyzer-remediation-scheduler-us-west-2",
        "arn:aws:iam::111122223333:role/aws-service-role/*",
      ], local.protected_role_arns))])
      AuditTable             = jsonencode(["Allow", ["dynamodb:BatchWriteItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"], ["arn:aws:dynamodb:us-west-2:111122223333:table/access-analyzer-remediation-audit"]])
      PublishDigest          = jsonencode(["Allow", ["sns:Publish"], ["arn:aws:sns:us-west-2:111122223333:access-analyzer-remediation"]])
      CheckSubscriptions     = jsonencode(["Allow", ["sns:ListSubscriptionsByTopic"], ["arn:aws:sns:us-west-2:111122223333:access-analyzer-remediation"]])
      ConsumeQueue           = jsonencode(["Allow", ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"], ["arn:aws:sqs:us-west-2:111122223333:access-analyzer-remediation"]])
      EnqueueSweptFindings   = jsonencode(["Allow", ["sqs:SendMessage"], ["arn:aws:sqs:us-west-2:111122223333:access-analyzer-remediation"]])
      ProveChanges           = jsonencode(["Allow", ["access-analyzer:CheckNoNewAccess", "access-analyzer:CheckNoPublicAccess", "access-analyzer:ValidatePolicy"], ["*"]])
      ConfirmChanges         = jsonencode(["Allow", ["access-analyzer:StartResourceScan"], ["arn:aws:access-analyzer:us-west-2:111122223333:analyzer/access-analyzer-remediation"]])
      RecordConfirmations    = jsonencode(["Allow", ["dynamodb:PutItem"], ["arn:aws:dynamodb:us-west-2:111122223333:table/access-analyzer-remediation-audit"]])
      WriteLogs              = jsonencode(["Allow", ["logs:CreateLogStream", "logs:PutLogEvents"], ["arn:aws:logs:us-west-2:111122223333:log-group:/aws/lambda/access-analyzer-remediation:*"]])
      KmsViaSns              = jsonencode(["Allow", ["kms:Decrypt", "kms:GenerateDataKey"], ["arn:aws:kms:us-west-2:111122223333:key/55555555-5555-5555-5555-555555555555"]])
      EditBucketPolicies     = jsonencode(["Allow", ["s3:DeleteBucketPolicy", "s3:GetBucketAcl", "s3:GetBucketPolicy", "s3:GetBucketPublicAccessBlock", "s3:GetBucketTagging", "s3:PutBucketAcl", "s3:PutBucketPolicy", "s3:PutBucketPublicAccessBlock"], ["arn:aws:s3:::*"]])
      EditKeyPolicies        = jsonencode(["Allow", ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListGrants", "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:RevokeGrant"], ["arn:aws:kms:*:111122223333:key/*"]])
      NeverEditProtectedKeys = jsonencode(["Deny", ["kms:PutKeyPolicy", "kms:RevokeGrant"], ["arn:aws:kms:us-west-2:111122223333:key/55555555-5555-5555-5555-555555555555"]])
    }
    error_message = "The Lambda role grants exactly the calls of docs/architecture.md (no X-Ray; KMS only for the topic's own key; the S3 and KMS calls of the default resource types; no PutKeyPolicy on the topic's key; no bucket Deny: the module uses no bucket)."
  }

  assert {
    condition = {
      for s in data.aws_iam_policy_document.lambda.statement : s.sid => [for c in s.condition : [c.test, c.variable, c.values]]
      if contains(["EditBucketPolicies", "EditKeyPolicies", "NeverEditProtectedKeys"], s.sid)
      } == {
      EditBucketPolicies     = [["StringEquals", "s3:ResourceAccount", tolist(["111122223333"])]]
      EditKeyPolicies        = []
      NeverEditProtectedKeys = []
    }
    error_message = "Bucket ARNs name no account: the S3 statement is limited to this account's buckets (s3:ResourceAccount); the key ARNs name it."
  }

  assert {
    condition = (
      aws_dynamodb_table.audit.name == "access-analyzer-remediation-audit"
      && aws_dynamodb_table.audit.billing_mode == "PAY_PER_REQUEST"
      && aws_dynamodb_table.audit.hash_key == "pk" && aws_dynamodb_table.audit.range_key == "sk"
      && aws_dynamodb_table.audit.ttl[0].attribute_name == "expires_at" && aws_dynamodb_table.audit.ttl[0].enabled
      && aws_dynamodb_table.audit.point_in_time_recovery[0].enabled
      && aws_dynamodb_table.audit.server_side_encryption[0].enabled
      && aws_dynamodb_table.audit.deletion_protection_enabled
    )
    error_message = "Audit table: on-demand, pk/sk, TTL expires_at, PITR, SSE, deletion protection."
  }

  assert {
    condition     = length(aws_kms_key.sns) == 1 && aws_kms_key.sns[0].enable_key_rotation && keys(aws_sns_topic_subscription.email) == ["security@example.com"]
    error_message = "By default the topic gets its own rotated customer managed key (CloudWatch alarms can publish) and one e-mail subscription."
  }

  assert {
    condition = (
      length(aws_cloudwatch_metric_alarm.dlq) == 2 && length(aws_cloudwatch_metric_alarm.lambda_errors) == 1
      && length(aws_cloudwatch_metric_alarm.notification_failed) == 1 && length(aws_cloudwatch_metric_alarm.queue_age) == 1
      && length(aws_cloudwatch_metric_alarm.containment_unresolved) == 1
    )
    error_message = "Alarms on both DLQs, on Lambda errors, on failed digests, on the queue's age and on unresolved containments are created by default."
  }

  assert {
    condition = alltrue([for a in concat(values(aws_cloudwatch_metric_alarm.dlq), aws_cloudwatch_metric_alarm.lambda_errors, aws_cloudwatch_metric_alarm.notification_failed, aws_cloudwatch_metric_alarm.queue_age, aws_cloudwatch_metric_alarm.containment_unresolved) :
    a.alarm_actions == toset([aws_sns_topic.this.arn])])
    error_message = "Alarms notify the module's topic by default."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.notification_failed[0].namespace == "AccessAnalyzerRemediation"
      && aws_cloudwatch_metric_alarm.notification_failed[0].metric_name == "NotificationFailed"
      && aws_cloudwatch_metric_alarm.notification_failed[0].dimensions == tomap({ service = "access-analyzer-remediation" })
      && aws_cloudwatch_metric_alarm.notification_failed[0].statistic == "Sum"
      && aws_cloudwatch_metric_alarm.notification_failed[0].period == 300
      && aws_cloudwatch_metric_alarm.notification_failed[0].threshold == 0
      && aws_cloudwatch_metric_alarm.notification_failed[0].comparison_operator == "GreaterThanThreshold"
      && aws_cloudwatch_metric_alarm.notification_failed[0].treat_missing_data == "notBreaching"
    )
    error_message = "NotificationFailed alarm: the Powertools metric of this service, Sum > 0 over 5 minutes, missing data not breaching."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.containment_unresolved[0].namespace == "AccessAnalyzerRemediation"
      && aws_cloudwatch_metric_alarm.containment_unresolved[0].metric_name == "ContainmentUnresolved"
      && aws_cloudwatch_metric_alarm.containment_unresolved[0].dimensions == tomap({ service = "access-analyzer-remediation" })
      && aws_cloudwatch_metric_alarm.containment_unresolved[0].statistic == "Sum"
      && aws_cloudwatch_metric_alarm.containment_unresolved[0].threshold == 0
      && aws_cloudwatch_metric_alarm.containment_unresolved[0].comparison_operator == "GreaterThanThreshold"
    )
    error_message = "ContainmentUnresolved alarm: the Powertools metric of this service, Sum > 0."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.queue_age[0].namespace == "AWS/SQS"
      && aws_cloudwatch_metric_alarm.queue_age[0].metric_name == "ApproximateAgeOfOldestMessage"
      && aws_cloudwatch_metric_alarm.queue_age[0].dimensions == tomap({ QueueName = aws_sqs_queue.this.name })
      && aws_cloudwatch_metric_alarm.queue_age[0].threshold == 3600
      && aws_cloudwatch_metric_alarm.queue_age[0].comparison_operator == "GreaterThanThreshold"
    )
    error_message = "Queue age alarm: the main queue's oldest message above 3600 seconds."
  }

  assert {
    condition     = !contains([for a in concat(values(aws_cloudwatch_metric_alarm.dlq), aws_cloudwatch_metric_alarm.lambda_errors, aws_cloudwatch_metric_alarm.notification_failed, aws_cloudwatch_metric_alarm.queue_age, aws_cloudwatch_metric_alarm.containment_unresolved) : a.metric_name], "NotContained")
    error_message = "NotContained is informational: no alarm."
  }

  assert {
    condition = (
      length(aws_scheduler_schedule.sweep) == 1
      && aws_scheduler_schedule.sweep[0].schedule_expression == "rate(1 day)"
      && jsondecode(aws_scheduler_schedule.sweep[0].target[0].input) == { aar_action = "sweep" }
      && aws_scheduler_schedule.sweep[0].target[0].arn == aws_lambda_function.this.arn
      && aws_scheduler_schedule.sweep[0].target[0].role_arn == aws_iam_role.scheduler[0].arn
    )
    error_message = "The daily sweep invokes the Lambda with {\"aar_action\": \"sweep\"} through the scheduler role."
  }

  assert {
    condition = (
      data.aws_iam_policy_document.scheduler[0].statement[0].actions == toset(["lambda:InvokeFunction"])
      && data.aws_iam_policy_document.scheduler[0].statement[0].resources == toset([aws_lambda_function.this.arn])
    )
    error_message = "The scheduler role may only invoke this function."
  }

  assert {
    condition     = aws_iam_role.lambda.permissions_boundary == null && aws_iam_role.scheduler[0].permissions_boundary == null
    error_message = "No permissions boundary by default."
  }

  assert {
    condition     = startswith(output.cli_environment, "export AWS_REGION='us-west-2'\n") && strcontains(output.cli_environment, "\nexport AAR_MODE='remediate'")
    error_message = "cli_environment renders export lines."
  }

  assert {
    condition     = output.sweep_schedule_arn != null && output.scheduler_role_arn == aws_iam_role.scheduler[0].arn && keys(output.alarm_arns) == ["dlq-not-empty", "events-dlq-not-empty", "lambda-errors", "notification-failed", "queue-age"]
    error_message = "Optional outputs are set when their resources exist."
  }

  # The destroy guard: protection on by default, so a destroy stops before it removes anything and says what to do.
  assert {
    condition = (
      terraform_data.destroy_guard.input.deletion_protection == true
      && strcontains(terraform_data.destroy_guard.input.message, "audit table access-analyzer-remediation-audit")
      && strcontains(terraform_data.destroy_guard.input.message, "audit_table_deletion_protection = false")
      && strcontains(terraform_data.destroy_guard.input.message, "aa-remediate revert --all --yes")
      && length(regexall("[\"'`$;&|<>()*?\\\\^%!\n]", terraform_data.destroy_guard.input.message)) == 0
    )
    error_message = "The destroy guard knows the protection and tells the uninstall steps in one line that means the same to sh and cmd.exe (no quotes or metacharacters)."
  }

  # The dashboard: every metric of the contract (docs/architecture.md, "Metrics") of this service, the notices, both
  # dead-letter queues, the queue's oldest message against the alarm's threshold, the alarms.
  assert {
    condition     = length(aws_cloudwatch_dashboard.this) == 1 && aws_cloudwatch_dashboard.this[0].dashboard_name == "access-analyzer-remediation-us-west-2"
    error_message = "A dashboard named after the deployment is created by default."
  }

  assert {
    condition = toset(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : [
        for m in try(w.properties.metrics, []) : m[1] if try(m[0] == "AccessAnalyzerRemediation" && m[2] == "service" && m[3] == "access-analyzer-remediation", false)
      ]
      ])) == toset([
      "Remediated", "NotifiedOnly", "Skipped", "Failed", "NotContained", "NotificationFailed", "HeldBackNoSubscription",
      "StaleRead", "LedgerRepaired",
      "ConfirmationScheduled", "ConfirmationNotScheduled", "ContainmentVerified", "ContainmentUnresolved",
    ])
    error_message = "The dashboard charts every Powertools metric of the contract, in the namespace and for the service of this deployment."
  }

  assert {
    condition = toset(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : [
        for m in try(w.properties.metrics, []) : m[0].expression if can(m[0].expression)
      ]
      ])) == toset(concat([
      for outcome in ["Failed", "NotifiedOnly", "Remediated", "Skipped"] :
      "SEARCH('{\"AccessAnalyzerRemediation\",service} service=\"access-analyzer-remediation\" MetricName=${outcome} NOT MetricName=\"${outcome}\"${outcome == "Failed" ? " NOT MetricName=\"NotificationFailed\"" : ""}', 'Sum', 300)"
      ], [
      for outcome in ["Remediated", "NotifiedOnly", "NotContained", "Failed"] :
      "SEARCH('{\"AccessAnalyzerRemediation\",resource_type,service} service=\"access-analyzer-remediation\" MetricName=\"${outcome}\"', 'Sum', 300)"
    ]))
    error_message = "Per reason: one search per outcome over its <Outcome>.<reason> metrics, the total (and NotificationFailed) excluded. Per resource type: one search per outcome over the {resource_type,service} dimension set."
  }

  assert {
    condition = [
      for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : w.properties.metrics[0][0].label
      if can(regex("resource_type,service", w.properties.metrics[0][0].expression))
    ] == ["$${PROP('Dim.resource_type')}", "$${PROP('Dim.resource_type')}", "$${PROP('Dim.resource_type')}", "$${PROP('Dim.resource_type')}"]
    error_message = "By resource type: four charts, each line labelled with its resource type."
  }

  assert {
    condition = toset(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : [
        for m in try(w.properties.metrics, []) : "${m[0]} ${m[1]} ${m[3]}" if try(contains(["AWS/SQS", "AWS/SNS"], m[0]), false)
      ]
      ])) == toset([
      "AWS/SNS NumberOfMessagesPublished ${aws_sns_topic.this.name}",
      "AWS/SNS NumberOfNotificationsDelivered ${aws_sns_topic.this.name}",
      "AWS/SNS NumberOfNotificationsFailed ${aws_sns_topic.this.name}",
      "AWS/SQS ApproximateNumberOfMessagesVisible ${aws_sqs_queue.this.name}",
      "AWS/SQS ApproximateNumberOfMessagesNotVisible ${aws_sqs_queue.this.name}",
      "AWS/SQS ApproximateNumberOfMessagesVisible ${aws_sqs_queue.dlq.name}",
      "AWS/SQS ApproximateNumberOfMessagesVisible ${aws_sqs_queue.events_dlq.name}",
      "AWS/SQS ApproximateAgeOfOldestMessage ${aws_sqs_queue.this.name}",
    ])
    error_message = "Notices published, delivered and failed; the queue's pending and in-flight findings, both dead-letter queues and the oldest message's age."
  }

  assert {
    condition = (
      one([for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : w.properties.annotations.horizontal[0].value if can(w.properties.annotations)]) == 3600
      && one([for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : length(w.properties.alarms) if w.type == "alarm"]) == 6
      && alltrue([for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : w.properties.region == "us-west-2" if w.type == "metric"])
      && output.dashboard_arn == aws_cloudwatch_dashboard.this[0].dashboard_arn
    )
    error_message = "The queue age is drawn against the alarm's threshold, the five alarms' states are shown, every metric widget names the Region."
  }
}

run "existing_analyzers" {
  command = apply

  variables {
    create_analyzer = false
    analyzer_arns = [
      "arn:aws:access-analyzer:us-west-2:111122223333:analyzer/org",
      "arn:aws:access-analyzer:us-west-2:111122223333:analyzer/second",
    ]
    resource_types = ["AWS::IAM::Role", "AWS::S3::Bucket"]
  }

  assert {
    condition     = length(aws_accessanalyzer_analyzer.this) == 0 && output.analyzer_arn == null
    error_message = "No analyzer is created."
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables.AAR_ANALYZER_ARNS == jsonencode(var.analyzer_arns)
    error_message = "AAR_ANALYZER_ARNS lists the given analyzers."
  }

  assert {
    condition     = jsonencode(jsondecode(local.event_pattern).resources) == jsonencode(var.analyzer_arns) && jsonencode(jsondecode(local.event_pattern).detail.resourceType) == jsonencode([for t in var.resource_types : { prefix = t }])
    error_message = "The rule matches the given analyzers and resource types."
  }

  assert {
    condition     = data.aws_iam_policy_document.lambda.statement[0].resources == toset(var.analyzer_arns)
    error_message = "The Lambda may read findings of the given analyzers only."
  }

  assert {
    condition = (
      aws_lambda_function.this.environment[0].variables.AAR_RESOURCE_TYPES == jsonencode(var.resource_types)
      && contains([for s in data.aws_iam_policy_document.lambda.statement : s.sid], "EditBucketPolicies")
      && length([for s in data.aws_iam_policy_document.lambda.statement : s if anytrue([for a in s.actions : startswith(a, "kms:") && !contains(["kms:Decrypt", "kms:GenerateDataKey"], a)])]) == 0
    )
    error_message = "AAR_RESOURCE_TYPES is resource_types; roles and buckets get their calls, keys none (beyond the topic key's use)."
  }
}

# Only the types listed get their calls: a roles-only deployment has exactly the policy it had before S3 and KMS
# (no S3 or KMS statement, no Deny of theirs even for protected_resource_arns), and the Lambda still learns the
# protected resources (it reports their findings if a type is enabled later).
run "roles_only" {
  command = apply

  variables {
    resource_types          = ["AWS::IAM::Role"]
    protected_resource_arns = ["arn:aws:s3:::audit-logs", "arn:aws:kms:us-west-2:111122223333:key/66666666-6666-6666-6666-666666666666"]
  }

  assert {
    condition = toset([for s in data.aws_iam_policy_document.lambda.statement : s.sid]) == toset([
      "ReadFindings", "EditRoleTrustPolicies", "NeverEditProtectedRoles", "AuditTable", "PublishDigest",
      "CheckSubscriptions", "ConsumeQueue", "EnqueueSweptFindings", "ProveChanges", "ConfirmChanges", "RecordConfirmations",
      "WriteLogs", "KmsViaSns",
    ])
    error_message = "resource_types = [\"AWS::IAM::Role\"]: the role policy's statements are the roles-only ones."
  }

  assert {
    condition = toset(flatten([
      for s in data.aws_iam_policy_document.lambda.statement : [for a in s.actions : a if startswith(a, "s3:") || startswith(a, "kms:")]
    ])) == toset(["kms:Decrypt", "kms:GenerateDataKey"])
    error_message = "No S3 action and no KMS action but the topic key's use (kms:ViaService)."
  }

  assert {
    condition = (
      aws_lambda_function.this.environment[0].variables.AAR_RESOURCE_TYPES == jsonencode(var.resource_types)
      && aws_lambda_function.this.environment[0].variables.AAR_RESOURCE_TYPES == "[\"AWS::IAM::Role\"]"
      && aws_lambda_function.this.environment[0].variables.AAR_PROTECTED_RESOURCE_ARNS == jsonencode(var.protected_resource_arns)
      && jsondecode(aws_lambda_function.this.environment[0].variables.AAR_OWN_RESOURCE_ARNS)[0] == aws_kms_key.sns[0].arn
    )
    error_message = "AAR_RESOURCE_TYPES is resource_types; the own and protected resources are passed whatever the types."
  }

  assert {
    condition     = jsondecode(local.event_pattern).detail.resourceType == [{ prefix = "AWS::IAM::Role" }]
    error_message = "The rule sends role findings only."
  }
}

# The deployment's own keys (every customer managed key input in use, one key serving two inputs listed once) and
# protected_resource_arns get the explicit Denies; the Lambda gets both lists.
run "own_and_protected_resources" {
  command = apply

  variables {
    create_sns_kms_key      = false
    sns_kms_key_id          = "arn:aws:kms:us-west-2:111122223333:key/11111111-1111-1111-1111-111111111111"
    sqs_kms_key_arn         = "arn:aws:kms:us-west-2:111122223333:key/22222222-2222-2222-2222-222222222222"
    audit_table_kms_key_arn = "arn:aws:kms:us-west-2:111122223333:key/22222222-2222-2222-2222-222222222222"
    log_kms_key_arn         = "arn:aws:kms:us-west-2:111122223333:key/44444444-4444-4444-4444-444444444444"
    protected_resource_arns = [
      "arn:aws:s3:::audit-logs",
      "arn:aws:kms:eu-west-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef",
      "arn:aws:s3:::org.cloudtrail-111122223333",
    ]
  }

  assert {
    condition = slice(jsondecode(aws_lambda_function.this.environment[0].variables.AAR_OWN_RESOURCE_ARNS), 0, 3) == [
      "arn:aws:kms:us-west-2:111122223333:key/11111111-1111-1111-1111-111111111111",
      "arn:aws:kms:us-west-2:111122223333:key/22222222-2222-2222-2222-222222222222",
      "arn:aws:kms:us-west-2:111122223333:key/44444444-4444-4444-4444-444444444444",
    ]
    error_message = "AAR_OWN_RESOURCE_ARNS: the topic's, the queues' and table's (one key), the log group's key, then the queues, topic, table and function."
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables.AAR_PROTECTED_RESOURCE_ARNS == jsonencode(var.protected_resource_arns)
    error_message = "AAR_PROTECTED_RESOURCE_ARNS is protected_resource_arns."
  }

  assert {
    condition = {
      for s in data.aws_iam_policy_document.lambda.statement : s.sid => jsonencode([s.effect, sort(s.actions), sort(s.resources)])
      if startswith(s.sid, "NeverEdit") && s.sid != "NeverEditProtectedRoles"
      } == {
      NeverEditProtectedBuckets = jsonencode(["Deny", ["s3:DeleteBucketPolicy", "s3:PutBucketAcl", "s3:PutBucketPolicy", "s3:PutBucketPublicAccessBlock"], ["arn:aws:s3:::audit-logs", "arn:aws:s3:::org.cloudtrail-111122223333"]])
      NeverEditProtectedKeys = jsonencode(["Deny", ["kms:PutKeyPolicy", "kms:RevokeGrant"], [
        "arn:aws:kms:eu-west-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef",
        "arn:aws:kms:us-west-2:111122223333:key/11111111-1111-1111-1111-111111111111",
        "arn:aws:kms:us-west-2:111122223333:key/22222222-2222-2222-2222-222222222222",
        "arn:aws:kms:us-west-2:111122223333:key/44444444-4444-4444-4444-444444444444",
      ]])
    }
    error_message = "IAM refuses bucket policy writes on the protected buckets and key policy writes on the own and protected keys."
  }
}

run "created_and_existing_analyzers" {
  command = apply

  variables {
    analyzer_type = "ORGANIZATION"
    analyzer_arns = ["arn:aws:access-analyzer:us-west-2:111122223333:analyzer/second"]
  }

  assert {
    condition     = aws_accessanalyzer_analyzer.this[0].type == "ORGANIZATION"
    error_message = "An ORGANIZATION analyzer is created."
  }

  assert {
    condition = jsondecode(aws_lambda_function.this.environment[0].variables.AAR_ANALYZER_ARNS) == [
      "arn:aws:access-analyzer:us-west-2:111122223333:analyzer/access-analyzer-remediation",
      "arn:aws:access-analyzer:us-west-2:111122223333:analyzer/second",
    ]
    error_message = "AAR_ANALYZER_ARNS lists the created analyzer and the given ones."
  }
}

run "no_analyzer_is_an_error" {
  command = plan

  variables {
    create_analyzer = false
  }

  expect_failures = [aws_cloudwatch_event_rule.this]
}

run "toggles_off" {
  command = apply

  variables {
    create_alarms                   = false
    enable_sweep                    = false
    create_dashboard                = false
    audit_table_deletion_protection = false
  }

  assert {
    condition     = length(aws_cloudwatch_dashboard.this) == 0 && output.dashboard_arn == null
    error_message = "create_dashboard = false creates no dashboard."
  }

  assert {
    condition     = terraform_data.destroy_guard.input.deletion_protection == false && !aws_dynamodb_table.audit.deletion_protection_enabled
    error_message = "Without deletion protection the guard lets a destroy through."
  }

  assert {
    condition = (
      length(aws_cloudwatch_metric_alarm.dlq) == 0 && length(aws_cloudwatch_metric_alarm.lambda_errors) == 0
      && length(aws_cloudwatch_metric_alarm.notification_failed) == 0 && length(aws_cloudwatch_metric_alarm.queue_age) == 0
      && output.alarm_arns == {}
    )
    error_message = "create_alarms = false creates no alarm."
  }

  assert {
    condition = (
      length(aws_scheduler_schedule.sweep) == 0 && length(aws_iam_role.scheduler) == 0
      && length(aws_iam_role_policy.scheduler) == 0
      && output.sweep_schedule_arn == null && output.scheduler_role_arn == null
    )
    error_message = "enable_sweep = false creates no schedule and no scheduler role."
  }

  assert {
    condition     = jsondecode(aws_lambda_function.this.environment[0].variables.AAR_OWN_ROLE_ARNS) == [aws_iam_role.lambda.arn]
    error_message = "Without the sweep only the Lambda role is the tool's own role."
  }
}

run "all_engine_settings" {
  command = apply


  variables {
    name                           = "aar-prod"
    mode                           = "notify"
    trusted_account_ids            = ["444455556666", "777788889999"]
    trusted_organization_id        = "o-abcdefghij"
    protected_role_patterns        = ["break-glass-*"]
    exemption_tag_key              = "security:intended"
    allowed_principals             = ["999988887777", "arn:aws:iam::123456789012:role/ci-*", "cognito-identity.amazonaws.com"]
    trust_policy_max_chars         = 4096
    audit_retention_days           = 0
    lock_lease_seconds             = 120
    tracing_enabled                = true
    log_level                      = "DEBUG"
    metrics_namespace              = "Security/AAR"
    architecture                   = "x86_64"
    lambda_timeout                 = 120
    lambda_memory_size             = 512
    event_source_mapping           = { batch_size = 50, maximum_batching_window_in_seconds = 10, maximum_concurrency = 5 }
    max_receive_count              = 3
    lambda_reserved_concurrency    = 10
    powertools_layer_version       = 20
    log_retention_days             = 90
    event_retry_policy             = { maximum_retry_attempts = 10 }
    sweep_schedule_expression      = "cron(0 6 * * ? *)"
    additional_notification_emails = ["oncall@example.com", "audit@example.com"]
    require_confirmed_subscription = false
    queue_age_alarm_seconds        = 900
    tags                           = { team = "security" }
  }

  assert {
    condition = (
      aws_lambda_function.this.environment[0].variables.AAR_MODE == "notify"
      && aws_lambda_function.this.environment[0].variables.AAR_TRUSTED_ACCOUNT_IDS == "[\"444455556666\",\"777788889999\"]"
      && aws_lambda_function.this.environment[0].variables.AAR_TRUSTED_ORG_ID == "o-abcdefghij"
      && aws_lambda_function.this.environment[0].variables.AAR_PROTECTED_ROLE_PATTERNS == "[\"break-glass-*\"]"
      && aws_lambda_function.this.environment[0].variables.AAR_EXEMPTION_TAG_KEY == "security:intended"
      && aws_lambda_function.this.environment[0].variables.AAR_ALLOWED_PRINCIPALS == jsonencode(var.allowed_principals)
      && aws_lambda_function.this.environment[0].variables.AAR_TRUST_POLICY_MAX_CHARS == "4096"
      && aws_lambda_function.this.environment[0].variables.AAR_AUDIT_RETENTION_DAYS == "0"
      && aws_lambda_function.this.environment[0].variables.AAR_LOCK_LEASE_SECONDS == "120"
      && aws_lambda_function.this.environment[0].variables.AAR_TRACING == "true"
      && aws_lambda_function.this.environment[0].variables.POWERTOOLS_SERVICE_NAME == "aar-prod"
      && aws_lambda_function.this.environment[0].variables.POWERTOOLS_METRICS_NAMESPACE == "Security/AAR"
      && aws_lambda_function.this.environment[0].variables.POWERTOOLS_LOG_LEVEL == "DEBUG"
      && aws_lambda_function.this.environment[0].variables.AAR_REQUIRE_CONFIRMED_SUBSCRIPTION == "false"
      && aws_lambda_function.this.environment[0].variables.AAR_QUEUE_URL == aws_sqs_queue.this.url
    )
    error_message = "Every engine setting reaches the Lambda environment."
  }

  assert {
    condition = (
      aws_lambda_function.this.function_name == "aar-prod"
      && aws_lambda_function.this.architectures == tolist(["x86_64"])
      && aws_lambda_function.this.layers == tolist(["arn:aws:lambda:us-west-2:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-x86_64:20"])
      && aws_lambda_function.this.timeout == 120 && aws_lambda_function.this.memory_size == 512
      && aws_lambda_function.this.reserved_concurrent_executions == 10
      && aws_lambda_function.this.tracing_config[0].mode == "Active"
      && aws_cloudwatch_log_group.lambda.name == "/aws/lambda/aar-prod" && aws_cloudwatch_log_group.lambda.retention_in_days == 90
    )
    error_message = "Lambda settings follow the inputs."
  }

  assert {
    condition = (
      aws_lambda_event_source_mapping.this.batch_size == 50
      && aws_lambda_event_source_mapping.this.maximum_batching_window_in_seconds == 10
      && aws_lambda_event_source_mapping.this.scaling_config[0].maximum_concurrency == 5
      && jsondecode(aws_sqs_queue.this.redrive_policy).maxReceiveCount == 3
      && aws_sqs_queue.this.visibility_timeout_seconds == 6 * 120 + 10
      && aws_cloudwatch_event_target.this.retry_policy[0].maximum_retry_attempts == 10
      && aws_cloudwatch_event_target.this.retry_policy[0].maximum_event_age_in_seconds == 86400
    )
    error_message = "Queue, retry and event source mapping settings follow the inputs."
  }

  assert {
    condition     = contains([for s in data.aws_iam_policy_document.lambda.statement : s.sid], "XRayTracing")
    error_message = "Tracing grants the X-Ray write actions."
  }

  assert {
    condition = (
      aws_sqs_queue.this.name == "aar-prod" && aws_sqs_queue.dlq.name == "aar-prod-dlq" && aws_sqs_queue.events_dlq.name == "aar-prod-events-dlq"
      && aws_iam_role.lambda.name == "aar-prod-lambda-us-west-2" && aws_iam_role.scheduler[0].name == "aar-prod-scheduler-us-west-2"
      && aws_dynamodb_table.audit.name == "aar-prod-audit" && aws_sns_topic.this.name == "aar-prod"
      && aws_scheduler_schedule.sweep[0].name == "aar-prod-sweep" && aws_cloudwatch_event_rule.this.name == "aar-prod"
    )
    error_message = "Every name starts with var.name."
  }

  assert {
    condition = alltrue([for r in [
      aws_lambda_function.this.tags, aws_sqs_queue.this.tags, aws_sqs_queue.dlq.tags, aws_sqs_queue.events_dlq.tags,
      aws_iam_role.lambda.tags, aws_iam_role.scheduler[0].tags, aws_dynamodb_table.audit.tags, aws_sns_topic.this.tags,
      aws_cloudwatch_log_group.lambda.tags, aws_cloudwatch_event_rule.this.tags, aws_accessanalyzer_analyzer.this[0].tags,
      aws_lambda_event_source_mapping.this.tags, aws_cloudwatch_metric_alarm.lambda_errors[0].tags,
      aws_cloudwatch_metric_alarm.notification_failed[0].tags, aws_cloudwatch_metric_alarm.queue_age[0].tags,
    ] : r == tomap({ team = "security" })])
    error_message = "Taggable resources carry var.tags."
  }

  assert {
    condition     = keys(aws_sns_topic_subscription.email) == ["audit@example.com", "oncall@example.com", "security@example.com"]
    error_message = "Every address gets an e-mail subscription."
  }

  assert {
    condition     = aws_scheduler_schedule.sweep[0].schedule_expression == "cron(0 6 * * ? *)"
    error_message = "The sweep follows sweep_schedule_expression."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.notification_failed[0].namespace == "Security/AAR"
      && aws_cloudwatch_metric_alarm.notification_failed[0].dimensions == tomap({ service = "aar-prod" })
      && aws_cloudwatch_metric_alarm.queue_age[0].threshold == 900
      && aws_cloudwatch_metric_alarm.queue_age[0].dimensions == tomap({ QueueName = "aar-prod" })
    )
    error_message = "The NotificationFailed alarm follows metrics_namespace and name; the queue age alarm follows queue_age_alarm_seconds."
  }

  assert {
    condition = (
      aws_cloudwatch_dashboard.this[0].dashboard_name == "aar-prod-us-west-2"
      && strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, jsonencode("SEARCH('{\"Security/AAR\",service} service=\"aar-prod\" MetricName=Failed NOT MetricName=\"Failed\" NOT MetricName=\"NotificationFailed\"', 'Sum', 300)"))
      && strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, jsonencode(["Security/AAR", "Remediated", "service", "aar-prod", { label = "Contained (Deny written)", stat = "Sum" }]))
    )
    error_message = "The dashboard follows name and metrics_namespace (a namespace with / is quoted in the search)."
  }
}

run "customer_managed_keys_and_boundary" {
  command = apply

  variables {
    create_sns_kms_key      = false
    sns_kms_key_id          = "arn:aws:kms:us-west-2:111122223333:key/11111111-1111-1111-1111-111111111111"
    sqs_kms_key_arn         = "arn:aws:kms:us-west-2:111122223333:key/22222222-2222-2222-2222-222222222222"
    audit_table_kms_key_arn = "arn:aws:kms:us-west-2:111122223333:key/33333333-3333-3333-3333-333333333333"
    log_kms_key_arn         = "arn:aws:kms:us-west-2:111122223333:key/44444444-4444-4444-4444-444444444444"
    permissions_boundary    = "arn:aws:iam::111122223333:policy/boundary"
    alarm_topic_arn         = "arn:aws:sns:us-west-2:111122223333:ops-alarms"
  }

  assert {
    condition = {
      for s in data.aws_iam_policy_document.lambda.statement : s.sid => jsonencode([sort(s.actions), sort(s.resources), one(s.condition).values])
      if startswith(s.sid, "Kms")
      } == {
      KmsViaSns      = jsonencode([["kms:Decrypt", "kms:GenerateDataKey"], [var.sns_kms_key_id], ["sns.us-west-2.amazonaws.com"]])
      KmsViaSqs      = jsonencode([["kms:Decrypt", "kms:GenerateDataKey"], [var.sqs_kms_key_arn], ["sqs.us-west-2.amazonaws.com"]])
      KmsViaDynamodb = jsonencode([["kms:Decrypt", "kms:GenerateDataKey"], [var.audit_table_kms_key_arn], ["dynamodb.us-west-2.amazonaws.com"]])
    }
    error_message = "The Lambda role may use exactly the customer managed keys in use, each through its service."
  }

  assert {
    condition = alltrue([for q in [aws_sqs_queue.this, aws_sqs_queue.dlq, aws_sqs_queue.events_dlq] :
    q.kms_master_key_id == var.sqs_kms_key_arn])
    error_message = "The queues use the customer managed key."
  }

  assert {
    condition = (
      aws_sns_topic.this.kms_master_key_id == var.sns_kms_key_id
      && aws_dynamodb_table.audit.server_side_encryption[0].kms_key_arn == var.audit_table_kms_key_arn
      && aws_cloudwatch_log_group.lambda.kms_key_id == var.log_kms_key_arn
    )
    error_message = "Topic, table and log group use their keys."
  }

  assert {
    condition     = aws_iam_role.lambda.permissions_boundary == var.permissions_boundary && aws_iam_role.scheduler[0].permissions_boundary == var.permissions_boundary
    error_message = "Both roles get the permissions boundary."
  }

  assert {
    condition = alltrue([for a in concat(values(aws_cloudwatch_metric_alarm.dlq), aws_cloudwatch_metric_alarm.lambda_errors, aws_cloudwatch_metric_alarm.notification_failed, aws_cloudwatch_metric_alarm.queue_age, aws_cloudwatch_metric_alarm.containment_unresolved) :
    a.alarm_actions == toset([var.alarm_topic_arn])])
    error_message = "Alarms notify alarm_topic_arn when it is set."
  }
}

run "confirm_changes_off" {
  command = apply

  variables {
    confirm_changes = { enabled = false, delay_seconds = 0, deadline_seconds = 0 }
  }

  assert {
    condition = (
      aws_lambda_function.this.environment[0].variables["AAR_CONFIRM_CHANGES"] == "false"
      && aws_lambda_function.this.environment[0].variables["AAR_CONFIRM_DELAY_SECONDS"] == "0"
      && aws_lambda_function.this.environment[0].variables["AAR_CONFIRM_DEADLINE_SECONDS"] == "0"
      && !contains([for s in data.aws_iam_policy_document.lambda.statement : s.sid], "ConfirmChanges")
      && !contains([for s in data.aws_iam_policy_document.lambda.statement : s.sid], "RecordConfirmations")
      && length(aws_cloudwatch_metric_alarm.containment_unresolved) == 0
    )
    error_message = "confirm_changes off: no StartResourceScan or PutItem statement, no ContainmentUnresolved alarm, AAR_CONFIRM_CHANGES=false."
  }
}

run "dashboard_without_alarms" {
  command = plan

  variables {
    create_alarms = false
  }

  assert {
    condition     = length(aws_cloudwatch_dashboard.this) == 1 && length([for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : w if w.type == "alarm"]) == 0
    error_message = "Without alarms the dashboard has no alarm widget."
  }
}

run "no_layers" {
  command = plan

  variables {
    lambda_layers = []
  }

  assert {
    condition     = length(aws_lambda_function.this.layers) == 0
    error_message = "lambda_layers = [] attaches no layer."
  }
}

run "reserved_concurrency_below_maximum_concurrency" {
  command = plan

  variables {
    lambda_reserved_concurrency = 2
    event_source_mapping        = { maximum_concurrency = 3 }
  }

  expect_failures = [aws_lambda_function.this]
}

# Alarms on the module's topic encrypted with the AWS managed key could never be delivered: an error, not a warning.
run "aws_managed_topic_key_with_alarms_on_the_topic_is_an_error" {
  command = plan

  variables {
    create_sns_kms_key = false
    sns_kms_key_id     = "alias/aws/sns"
  }

  expect_failures = [aws_sns_topic.this]
}

run "no_topic_key_with_alarms_on_the_topic_is_an_error" {
  command = plan

  variables {
    create_sns_kms_key = false
  }

  expect_failures = [aws_sns_topic.this]
}

run "aws_managed_topic_key_with_a_separate_alarm_topic" {
  command = plan

  variables {
    create_sns_kms_key = false
    sns_kms_key_id     = "alias/aws/sns"
    alarm_topic_arn    = "arn:aws:sns:us-west-2:111122223333:ops-alarms"
  }

  assert {
    condition     = length(aws_kms_key.sns) == 0 && aws_sns_topic.this.kms_master_key_id == "alias/aws/sns"
    error_message = "With the AWS managed key the module creates no key of its own."
  }

  assert {
    condition = (
      length([for a in jsondecode(aws_lambda_function.this.environment[0].variables.AAR_OWN_RESOURCE_ARNS) : a if startswith(a, "arn:aws:kms:")]) == 0
      && contains(jsondecode(aws_lambda_function.this.environment[0].variables.AAR_OWN_RESOURCE_ARNS), "arn:aws:sns:us-west-2:111122223333:ops-alarms")
      && !contains([for s in data.aws_iam_policy_document.lambda.statement : s.sid], "NeverEditProtectedKeys")
      && contains([for s in data.aws_iam_policy_document.lambda.statement : s.sid], "EditKeyPolicies")
    )
    error_message = "No customer managed key of its own: no own resource, no key Deny (a Deny without a resource is no valid statement)."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.lambda_errors[0].alarm_actions == toset(["arn:aws:sns:us-west-2:111122223333:ops-alarms"])
    error_message = "The alarms notify alarm_topic_arn."
  }
}

run "aws_managed_topic_key_without_alarms" {
  command = plan

  variables {
    create_sns_kms_key = false
    sns_kms_key_id     = "alias/aws/sns"
    create_alarms      = false
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.lambda_errors) == 0 && aws_sns_topic.this.kms_master_key_id == "alias/aws/sns"
    error_message = "Without alarms the AWS managed key is accepted."
  }
}

run "alarm_topic_check_passes_with_customer_managed_key" {
  command = plan

  variables {
    create_sns_kms_key = false
    sns_kms_key_id     = "arn:aws:kms:us-west-2:111122223333:key/11111111-1111-1111-1111-111111111111"
  }

  assert {
    condition     = aws_sns_topic.this.kms_master_key_id == var.sns_kms_key_id
    error_message = "A customer managed key needs no alarm_topic_arn (the precondition passes, so this run has no expect_failures)."
  }
}

run "sns_kms_key_id_needs_create_sns_kms_key_false" {
  command = plan

  variables {
    sns_kms_key_id = "arn:aws:kms:us-west-2:111122223333:key/11111111-1111-1111-1111-111111111111"
  }

  expect_failures = [check.sns_kms_key_inputs]
}

run "lock_lease_shorter_than_lambda_timeout" {
  command = plan

  variables {
    lambda_timeout     = 120
    lock_lease_seconds = 60
  }

  expect_failures = [aws_lambda_function.this]
}

# A batch must be done within one invocation: at most 10 findings per second of lambda_timeout.
run "batch_size_too_large_for_the_timeout" {
  command = plan

  variables {
    lambda_timeout       = 60
    event_source_mapping = { batch_size = 1000, maximum_batching_window_in_seconds = 5 }
  }

  expect_failures = [aws_lambda_event_source_mapping.this]
}

run "batch_size_within_the_timeout" {
  command = plan

  variables {
    lambda_timeout       = 60
    event_source_mapping = { batch_size = 600, maximum_batching_window_in_seconds = 5 }
  }

  assert {
    condition     = aws_lambda_event_source_mapping.this.batch_size == 600
    error_message = "batch_size = 10 x lambda_timeout is accepted."
  }
}

run "queue_age_alarm_beyond_the_retention" {
  command = plan

  variables {
    queue_age_alarm_seconds = 345600
  }

  expect_failures = [aws_cloudwatch_metric_alarm.queue_age]
}

# Organization mode: the Lambda may assume the member role (by name, in any account) and is told how to act there.
run "organization_mode" {
  command = apply

  variables {
    member_role_name        = "access-analyzer-remediation-member"
    member_role_external_id = "central-external-id"
    management_account_id   = "444455556666"
    account_modes           = { "210987654321" = "notify" }
    excluded_account_ids    = ["333344445555"]
  }

  assert {
    condition = [
      for s in data.aws_iam_policy_document.lambda.statement : jsonencode([sort(s.actions), sort(s.resources)]) if s.sid == "AssumeMemberRole"
    ] == [jsonencode([["sts:AssumeRole"], ["arn:aws:iam::*:role/access-analyzer-remediation-member"]])]
    error_message = "Organization mode grants sts:AssumeRole on exactly the member role's name, in any account."
  }

  assert {
    condition = (
      aws_lambda_function.this.environment[0].variables.AAR_MEMBER_ROLE_NAME == "access-analyzer-remediation-member"
      && nonsensitive(aws_lambda_function.this.environment[0].variables.AAR_MEMBER_ROLE_EXTERNAL_ID) == "central-external-id"
      && aws_lambda_function.this.environment[0].variables.AAR_MANAGEMENT_ACCOUNT_ID == "444455556666"
      && aws_lambda_function.this.environment[0].variables.AAR_ALLOW_MANAGEMENT_ACCOUNT == "false"
      && aws_lambda_function.this.environment[0].variables.AAR_ACCOUNT_MODES == "{\"210987654321\":\"notify\"}"
      && aws_lambda_function.this.environment[0].variables.AAR_EXCLUDED_ACCOUNT_IDS == "[\"333344445555\"]"
    )
    error_message = "The organization settings reach the Lambda environment."
  }
}

# Approve mode and mode_rules reach the Lambda as JSON the settings parse (keys left out stay out).
run "approve_mode_and_mode_rules" {
  command = apply

  variables {
    mode                   = "approve"
    approval_timeout_hours = 24
    on_timeout             = "apply"
    mode_rules = [
      { mode = "remediate", resource_types = ["AWS::IAM::Role"] },
      { mode = "notify", resource_types = ["AWS::S3::Bucket"], account_ids = ["210987654321"] },
    ]
  }

  assert {
    condition = (
      aws_lambda_function.this.environment[0].variables.AAR_MODE == "approve"
      && aws_lambda_function.this.environment[0].variables.AAR_APPROVAL_TIMEOUT_HOURS == "24"
      && aws_lambda_function.this.environment[0].variables.AAR_ON_TIMEOUT == "apply"
      && jsondecode(aws_lambda_function.this.environment[0].variables.AAR_MODE_RULES) == jsondecode("[{\"mode\":\"remediate\",\"resource_types\":[\"AWS::IAM::Role\"]},{\"account_ids\":[\"210987654321\"],\"mode\":\"notify\",\"resource_types\":[\"AWS::S3::Bucket\"]}]")
    )
    error_message = "The approval settings and mode_rules reach the Lambda environment."
  }
}

run "organization_mode_without_the_management_account" {
  command = plan

  variables {
    member_role_name = "access-analyzer-remediation-member"
  }

  expect_failures = [aws_lambda_function.this]
}

# terraform test destroys what the runs applied when the file is done, and the destroy guard (uninstall.tf) stops any
# destroy while the audit table is protected, this one too: the last apply switches the protection off, as a user must.
run "deletion_protection_off_before_the_test_destroys" {
  command = apply

  variables {
    audit_table_deletion_protection = false
  }

  assert {
    condition     = terraform_data.destroy_guard.input.deletion_protection == false
    error_message = "The guard lets the destroy through once the protection is off."
  }
}
