# Access Analyzer remediation: Access Analyzer -> EventBridge rule -> SQS (+DLQ) -> Lambda -> IAM / DynamoDB / SNS.
# One concern per file:
#   analyzer.tf       the Access Analyzer (or the existing ones passed in)
#   events.tf         EventBridge rule, its SQS target, the dead-letter queues and their policies
#   lambda.tf         the function, its log group and the SQS event source mapping
#   iam.tf            the Lambda execution role (least privilege, see docs/architecture.md)
#   notifications.tf  the SNS topic, its policy and the e-mail subscriptions
#   audit.tf          the DynamoDB audit table (audit log, per-resource state, notice outbox)
#   alarms.tf         CloudWatch alarms: dead-letter queues, Lambda errors, failed digests, queue age
#   sweep.tf          the daily EventBridge Scheduler sweep (enqueues every ACTIVE finding) and its role
#   dashboard.tf      the CloudWatch dashboard: outcomes per reason, notices, queues, the function, the alarms
#   uninstall.tf      the destroy guard: `terraform destroy` stops before removing anything while the table is protected
#   locals.tf         names, ARNs, the event pattern and the Lambda environment

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

# `id` is the Region name on both provider lines (`name` is deprecated on 6.x, `region` does not exist on 5.x).
data "aws_region" "current" {}
