# The stack set deploys in this partition (the management account's; every account of an organization shares it).
data "aws_partition" "current" {}
