locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.id

  # Every analyzer whose findings are forwarded: the one created here (if any) plus the existing ones passed in.
  analyzer_arns = var.create_analyzer ? concat(aws_accessanalyzer_analyzer.this[*].arn, var.analyzer_arns) : var.analyzer_arns

  # The central module's event pattern (its locals.tf, `event_pattern`), on this Region's analyzers: the central rule
  # then matches the forwarded events as it matches its own Region's (tests/regional.tftest.hcl compares the two).
  event_pattern = jsonencode({
    source        = ["aws.access-analyzer"]
    "detail-type" = ["Access Analyzer Finding"]
    resources     = local.analyzer_arns
    detail = {
      status       = ["ACTIVE"]
      isDeleted    = [{ exists = false }, false]
      resourceType = [for t in var.resource_types : { prefix = t }]
    }
  })

  # Analyzers whose events never reach this Region's default bus (another account, Region or partition).
  foreign_analyzer_arns = [
    for arn in var.analyzer_arns : arn
    if split(":", arn)[1] != local.partition || split(":", arn)[3] != local.region || split(":", arn)[4] != local.account_id
  ]

  bus_partition  = split(":", var.central_event_bus_arn)[1]
  bus_region     = split(":", var.central_event_bus_arn)[3]
  bus_account_id = split(":", var.central_event_bus_arn)[4]

  # Regional names (the rule, the queue) need no Region; the IAM role is account-global, so it carries the Region.
  rule_name = "${var.name}-forward"
  rule_arn  = "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${local.rule_name}"
  role_name = "${var.name}-forward-${local.region}"
  dlq_name  = "${var.name}-forward-dlq"
  dlq_arn   = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.dlq_name}"
}
