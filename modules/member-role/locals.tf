locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # Built from the name, not read from aws_iam_role.this: the role's policy would otherwise wait for the role and
  # show as "(known after apply)"; the ARN format is fixed.
  role_arn = "arn:${local.partition}:iam::${local.account_id}:role${var.path}${var.name}"
}
