################################################################################
# Destroy guard: `terraform destroy` either works in one step or stops before it removes anything
################################################################################

# With deletion protection on, DynamoDB refuses to delete the audit table, but Terraform asks only after it has
# destroyed everything that depends on the table: the function, the rule, the queues, the roles (23 of 24 resources)
# would be gone, and the table with the only record of the Denies still in the trust policies would be left behind.
# This resource depends on every other resource of the module, so a destroy removes it first; while deletion
# protection is on, its destroy-time provisioner fails, and Terraform stops before it touches anything else.
#
# Only Terraform built-ins: `terraform_data` (Terraform >= 1.4) and `local-exec`. A destroy-time provisioner may
# only refer to `self`, so everything it needs is in `input`. The command is an `echo` of a single line without
# quotes or shell metacharacters followed by `exit`, which means the same to /bin/sh (Linux, macOS, CI runners)
# and to cmd.exe (Terraform's default interpreter on Windows); Terraform's error repeats the command, so the
# instructions are shown even where `echo` writes nothing. `lifecycle.prevent_destroy` would stop the destroy at
# plan time, but it cannot depend on a variable, and the provisioner's configuration is read from the module's code:
# removing the module block skips it (UPGRADING.md, "Uninstall").
resource "terraform_data" "destroy_guard" {
  input = {
    deletion_protection = var.audit_table_deletion_protection
    message = join(" ", [
      "STOP: terraform destroy has removed nothing.",
      "audit_table_deletion_protection is true, so DynamoDB would refuse to delete the audit table ${aws_dynamodb_table.audit.name} after everything else was gone.",
      "To uninstall: 1. set mode = notify and audit_table_deletion_protection = false in the module block and run terraform apply.",
      "2. The Denies this tool wrote stay in the trust policies after a destroy, and only this table knows them: to remove them, review them with aa-remediate revert --all, then run aa-remediate revert --all --yes.",
      "3. Run terraform destroy again.",
    ])
  }

  provisioner "local-exec" {
    when    = destroy
    command = self.input.deletion_protection ? "echo ${self.input.message} && exit 1" : "exit 0"
  }

  # Every other resource of the module (tests/terraform/test_contract.py checks that none is missing): they are
  # destroyed only after this guard.
  depends_on = [
    aws_accessanalyzer_analyzer.this,
    aws_cloudwatch_dashboard.this,
    aws_cloudwatch_event_rule.this,
    aws_cloudwatch_event_target.this,
    aws_cloudwatch_log_group.lambda,
    aws_cloudwatch_metric_alarm.dlq,
    aws_cloudwatch_metric_alarm.lambda_errors,
    aws_cloudwatch_metric_alarm.notification_failed,
    aws_cloudwatch_metric_alarm.containment_unresolved,
    aws_cloudwatch_metric_alarm.queue_age,
    aws_dynamodb_table.audit,
    aws_iam_role.lambda,
    aws_iam_role.scheduler,
    aws_iam_role_policy.lambda,
    aws_iam_role_policy.scheduler,
    aws_kms_alias.sns,
    aws_kms_key.sns,
    aws_lambda_event_source_mapping.this,
    aws_lambda_function.this,
    aws_scheduler_schedule.sweep,
    aws_sns_topic.this,
    aws_sns_topic_policy.this,
    aws_sns_topic_subscription.email,
    aws_sqs_queue.dlq,
    aws_sqs_queue.events_dlq,
    aws_sqs_queue.this,
    aws_sqs_queue_policy.events_dlq,
    aws_sqs_queue_policy.this,
  ]
}
