################################################################################
# CloudWatch dashboard: findings by outcome (in total, per reason, per resource type), notices, queues, the function
################################################################################

locals {
  # The Lambda's Powertools metrics (docs/architecture.md, "Metrics"): namespace POWERTOOLS_METRICS_NAMESPACE,
  # dimension service = POWERTOOLS_SERVICE_NAME (= var.name). Every outcome is counted twice: `<Outcome>` and
  # `<Outcome>.<reason>` (for example `Failed.iam_error`).
  dashboard_service = ["service", var.name]
  dashboard_period  = 300

  # A metric widget line: [namespace, metric name, dimension name, dimension value, {options}].
  dashboard_outcomes = [
    for metric in [
      { name = "Remediated", label = "Contained (Deny written)" },
      { name = "NotifiedOnly", label = "Notified only (intended, protected, notify mode, held back)" },
      { name = "NotContained", label = "Not contained (access stays open)" },
      { name = "Skipped", label = "Skipped (already contained, no longer active, inside the zone of trust, unverified claims)" },
      { name = "Failed", label = "Failed (retried, then the dead-letter queue)" },
      { name = "HeldBackNoSubscription", label = "Held back: no confirmed subscription" },
      { name = "ConfirmationScheduled", label = "Confirmation scheduled after a write" },
      { name = "ConfirmationNotScheduled", label = "Confirmation NOT scheduled (see the CONFIRM record)" },
      { name = "ContainmentVerified", label = "Containment verified (finding resolved)" },
      { name = "ContainmentUnresolved", label = "Containment did NOT resolve the finding" },
    ] : concat([var.metrics_namespace, metric.name], local.dashboard_service, [{ label = metric.label, stat = "Sum" }])
  ]

  # Per reason: a search over the `<Outcome>.<reason>` metrics. An unquoted MetricName term matches metric names
  # containing that word (CloudWatch splits names at punctuation and case changes), so the bare total (and, for
  # Failed, NotificationFailed) is excluded by exact name. Reasons appear here as soon as they occur, none is listed.
  dashboard_search_namespace = "{\"${var.metrics_namespace}\",service} service=\"${var.name}\""
  dashboard_per_reason = {
    for outcome, title in {
      Failed       = "Failed, per reason"
      NotifiedOnly = "Notified only (not changed), per reason"
      Remediated   = "Contained, per reason"
      Skipped      = "Skipped, per reason"
      } : outcome => {
      title = title
      search = join(" ", concat(
        [local.dashboard_search_namespace, "MetricName=${outcome}", "NOT MetricName=\"${outcome}\""],
        outcome == "Failed" ? ["NOT MetricName=\"NotificationFailed\""] : [],
      ))
    }
  }

  # Per resource type: the same outcomes once more with the dimensions service and resource_type (the finding's
  # resourceType, or `unknown` when no finding could be read). A search over that dimension set draws one line per
  # type, so a new type appears without a change to the module.
  dashboard_search_by_type = "{\"${var.metrics_namespace}\",resource_type,service} service=\"${var.name}\""
  dashboard_by_type = [
    { name = "Remediated", title = "Contained, per resource type" },
    { name = "NotifiedOnly", title = "Notified only, per resource type" },
    { name = "NotContained", title = "Not contained (access stays open), per resource type" },
    { name = "Failed", title = "Failed, per resource type" },
  ]

  dashboard_alarm_arns = concat(
    [for a in aws_cloudwatch_metric_alarm.dlq : a.arn],
    aws_cloudwatch_metric_alarm.lambda_errors[*].arn,
    aws_cloudwatch_metric_alarm.notification_failed[*].arn,
    aws_cloudwatch_metric_alarm.containment_unresolved[*].arn,
    aws_cloudwatch_metric_alarm.queue_age[*].arn,
  )

  dashboard_widgets = concat(
    [
      {
        type = "text", x = 0, y = 0, width = 24, height = 2
        properties = {
          markdown = join("\n", [
            "# ${var.name}: IAM Access Analyzer remediation (mode `${var.mode}`)",
            "Findings by outcome, from the function's metrics (namespace `${var.metrics_namespace}`, service `${var.name}`); notices from SNS; waiting and dead-lettered findings from SQS. Per-finding detail: the audit table `${aws_dynamodb_table.audit.name}` (`aa-remediate status --finding-id ID`) and the log group `${local.log_group_name}`.",
          ])
        }
      },
      {
        type = "metric", x = 0, y = 2, width = 24, height = 6
        properties = {
          title   = "Findings by outcome"
          view    = "timeSeries"
          stacked = false
          region  = local.region
          period  = local.dashboard_period
          stat    = "Sum"
          metrics = local.dashboard_outcomes
        }
      },
    ],
    [
      for i, outcome in keys(local.dashboard_per_reason) : {
        type = "metric", x = 6 * i, y = 8, width = 6, height = 6
        properties = {
          title  = local.dashboard_per_reason[outcome].title
          view   = "timeSeries"
          region = local.region
          period = local.dashboard_period
          metrics = [[{
            id         = "reasons${i}"
            expression = "SEARCH('${local.dashboard_per_reason[outcome].search}', 'Sum', ${local.dashboard_period})"
            label      = ""
          }]]
        }
      }
    ],
    [
      {
        type = "text", x = 0, y = 14, width = 24, height = 1
        properties = {
          markdown = "## By resource type"
        }
      },
    ],
    [
      for i, outcome in local.dashboard_by_type : {
        type = "metric", x = 6 * i, y = 15, width = 6, height = 6
        properties = {
          title  = outcome.title
          view   = "timeSeries"
          region = local.region
          period = local.dashboard_period
          metrics = [[{
            id         = "types${i}"
            expression = "SEARCH('${local.dashboard_search_by_type} MetricName=\"${outcome.name}\"', 'Sum', ${local.dashboard_period})"
            label      = "$${PROP('Dim.resource_type')}"
          }]]
        }
      }
    ],
    [
      {
        type = "metric", x = 0, y = 21, width = 8, height = 6
        properties = {
          title  = "Notices (digests)"
          view   = "timeSeries"
          region = local.region
          period = local.dashboard_period
          stat   = "Sum"
          metrics = [
            ["AWS/SNS", "NumberOfMessagesPublished", "TopicName", aws_sns_topic.this.name, { label = "Published to the topic" }],
            ["AWS/SNS", "NumberOfNotificationsDelivered", "TopicName", aws_sns_topic.this.name, { label = "Delivered to subscribers" }],
            ["AWS/SNS", "NumberOfNotificationsFailed", "TopicName", aws_sns_topic.this.name, { label = "Delivery to subscribers failed" }],
            concat([var.metrics_namespace, "NotificationFailed"], local.dashboard_service, [{ label = "Not published (waiting in the outbox)" }]),
          ]
        }
      },
      {
        type = "metric", x = 8, y = 21, width = 8, height = 6
        properties = {
          title  = "Findings waiting and dead-lettered"
          view   = "timeSeries"
          region = local.region
          period = local.dashboard_period
          stat   = "Maximum"
          metrics = [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.this.name, { label = "Pending in the queue" }],
            ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", aws_sqs_queue.this.name, { label = "Being processed" }],
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.dlq.name, { label = "Dead-letter queue (failed ${var.max_receive_count} times)" }],
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.events_dlq.name, { label = "Events dead-letter queue (not delivered by EventBridge)" }],
          ]
        }
      },
      {
        type = "metric", x = 16, y = 21, width = 8, height = 6
        properties = {
          title  = "Oldest finding waiting in the queue (seconds)"
          view   = "timeSeries"
          region = local.region
          period = local.dashboard_period
          stat   = "Maximum"
          metrics = [
            ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", aws_sqs_queue.this.name, { label = "Age of the oldest message" }],
          ]
          annotations = {
            horizontal = [{ label = "queue-age alarm", value = var.queue_age_alarm_seconds }]
          }
        }
      },
      {
        type = "metric", x = 0, y = 27, width = 12, height = 6
        properties = {
          title  = "Function"
          view   = "timeSeries"
          region = local.region
          period = local.dashboard_period
          stat   = "Sum"
          metrics = [
            ["AWS/Lambda", "Invocations", "FunctionName", aws_lambda_function.this.function_name, { label = "Invocations" }],
            ["AWS/Lambda", "Errors", "FunctionName", aws_lambda_function.this.function_name, { label = "Errors (a sweep that could not list or enqueue, a crash)" }],
            ["AWS/Lambda", "Throttles", "FunctionName", aws_lambda_function.this.function_name, { label = "Throttles" }],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 27, width = 12, height = 6
        properties = {
          title  = "IAM consistency"
          view   = "timeSeries"
          region = local.region
          period = local.dashboard_period
          stat   = "Sum"
          metrics = [
            concat([var.metrics_namespace, "StaleRead"], local.dashboard_service, [{ label = "Stale reads (re-read until the ledger shows)" }]),
            concat([var.metrics_namespace, "LedgerRepaired"], local.dashboard_service, [{ label = "Ledger entries written again (removed by hand?)" }]),
          ]
        }
      },
    ],
    # The alarms' states, when the module creates them (a for expression: a conditional between an empty and a
    # non-empty tuple has no single type).
    [
      for arns in [local.dashboard_alarm_arns] : {
        type = "alarm", x = 0, y = 33, width = 24, height = 3
        properties = {
          title  = "Alarms"
          alarms = arns
        }
      } if var.create_alarms
    ],
  )
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create_dashboard ? 1 : 0

  dashboard_name = local.dashboard_name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
