################################################################################
# Scheduled sweep: EventBridge Scheduler invokes the Lambda with {"aar_action": "sweep"} using its own role
# (Scheduler needs no aws_lambda_permission; it calls lambda:InvokeFunction with this role).
################################################################################

data "aws_iam_policy_document" "scheduler_assume" {
  count = var.enable_sweep ? 1 : 0

  statement {
    sid     = "SchedulerAssume"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  count = var.enable_sweep ? 1 : 0

  name                 = local.scheduler_role_name
  description          = "Lets EventBridge Scheduler start the ${var.name} sweep"
  assume_role_policy   = data.aws_iam_policy_document.scheduler_assume[0].json
  permissions_boundary = var.permissions_boundary

  tags = var.tags

  lifecycle {
    # As the Lambda role (iam.tf): a renamed role replaces the old one before the schedule switches to it.
    create_before_destroy = true

    precondition {
      condition     = length(local.scheduler_role_name) <= 64
      error_message = "The scheduler role's name \"${local.scheduler_role_name}\" is longer than IAM's 64 characters: shorten name or set scheduler_role_name."
    }
  }
}

data "aws_iam_policy_document" "scheduler" {
  count = var.enable_sweep ? 1 : 0

  statement {
    sid       = "InvokeSweep"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.function_arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  count = var.enable_sweep ? 1 : 0

  name   = "${var.name}-scheduler"
  role   = aws_iam_role.scheduler[0].id
  policy = data.aws_iam_policy_document.scheduler[0].json

  lifecycle {
    create_before_destroy = true # as aws_iam_role_policy.lambda
  }
}

resource "aws_scheduler_schedule" "sweep" {
  #checkov:skip=CKV_AWS_297:The schedule stores only the constant input {"aar_action": "sweep"}; an AWS owned key encrypts it.

  count = var.enable_sweep ? 1 : 0

  name                = "${var.name}-sweep"
  description         = "Enqueue every ACTIVE finding of the configured analyzers on the ${var.name} queue"
  schedule_expression = var.sweep_schedule_expression

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this.arn
    role_arn = aws_iam_role.scheduler[0].arn
    input    = jsonencode({ aar_action = "sweep" })

    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 3
    }
  }

  depends_on = [aws_iam_role_policy.scheduler]
}
