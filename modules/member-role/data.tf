# The member account and its partition: the provider this module is called with must act in the member account.
data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}
