resource "aws_cloudwatch_log_group" "lambda" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:The function calls only public AWS APIs (Access Analyzer, IAM, DynamoDB, SNS, SQS; CloudWatch Logs, and X-Ray with tracing_enabled); a VPC would add NAT or VPC endpoints and no protection.
  #checkov:skip=CKV_AWS_116:Findings arrive synchronously through the SQS event source mapping (failed records redrive to the queue's DLQ). The only asynchronous caller is the scheduled sweep, whose input is the constant {"aar_action": "sweep"}: it is idempotent, Lambda retries it twice, a sweep that cannot list or enqueue raises (the Errors alarm), and the next sweep lists every ACTIVE finding again.
  #checkov:skip=CKV_AWS_173:The environment holds configuration only (names, ARNs, account ids, patterns, switches), no secrets; Lambda encrypts it at rest with its service key.
  #checkov:skip=CKV_AWS_272:The zip is built reproducibly from reviewed source (make package; a test fails when it is stale). Lambda code signing needs an AWS Signer profile and a signed artifact in S3, which this module (it uploads the committed zip) does not take; SECURITY.md says how to guard the code instead.

  function_name = var.name
  description   = "Contains unintended external access reported by IAM Access Analyzer"
  role          = aws_iam_role.lambda.arn

  filename         = local.lambda_zip
  source_code_hash = filebase64sha256(local.lambda_zip)
  handler          = "access_analyzer_remediation.handler.lambda_handler"
  runtime          = "python3.13"
  architectures    = [var.architecture]
  layers           = local.lambda_layers

  timeout                        = var.lambda_timeout
  memory_size                    = var.lambda_memory_size
  reserved_concurrent_executions = coalesce(var.lambda_reserved_concurrency, -1)

  environment {
    variables = local.lambda_environment
  }

  tracing_config {
    mode = var.tracing_enabled ? "Active" : "PassThrough"
  }

  tags = var.tags

  depends_on = [
    aws_cloudwatch_log_group.lambda,
    aws_iam_role_policy.lambda,
  ]

  lifecycle {
    precondition {
      condition     = var.lambda_reserved_concurrency == null || coalesce(var.lambda_reserved_concurrency, 0) >= var.event_source_mapping.maximum_concurrency
      error_message = "lambda_reserved_concurrency must be at least event_source_mapping.maximum_concurrency (or null)."
    }
    # A role's lock must outlive any invocation holding it: IAM has no conditional write, so a trust-policy write
    # that landed after the lease had passed to another worker could erase that worker's Deny.
    precondition {
      condition     = var.lock_lease_seconds >= var.lambda_timeout
      error_message = "lock_lease_seconds must be at least lambda_timeout."
    }
    # Organization mode never reaches the management account by accident: name it, or allow it explicitly.
    precondition {
      condition     = var.member_role_name == null || var.management_account_id != null || var.allow_management_account
      error_message = "member_role_name is set: set management_account_id (the organization's management account, never modified) or allow_management_account = true."
    }
  }
}

resource "aws_lambda_event_source_mapping" "this" {
  event_source_arn = aws_sqs_queue.this.arn
  function_name    = aws_lambda_function.this.arn

  batch_size                         = var.event_source_mapping.batch_size
  maximum_batching_window_in_seconds = var.event_source_mapping.maximum_batching_window_in_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.event_source_mapping.maximum_concurrency
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.lambda]

  lifecycle {
    # A batch must finish within one invocation, or its records time out, come back and end in the dead-letter
    # queue although nothing was wrong with them.
    precondition {
      condition     = var.event_source_mapping.batch_size <= 10 * var.lambda_timeout
      error_message = "event_source_mapping.batch_size (${var.event_source_mapping.batch_size}) must be at most 10 x lambda_timeout (${10 * var.lambda_timeout}): the Lambda handles the findings of a batch concurrently, 16 resources at a time, about 5 AWS calls each; at IAM's ~200 ms per call that is about 16 findings per second, so 10 per second of timeout leaves room for retries and the write reserve. Lower batch_size or raise lambda_timeout."
    }
  }
}
