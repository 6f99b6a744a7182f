resource "aws_iam_role" "this" {
  name                 = var.name
  path                 = var.path
  description          = "Assumed by the central access-analyzer-remediation Lambda to contain external access in this account"
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  permissions_boundary = var.permissions_boundary
  # Assuming a role from a Lambda function is role chaining: STS caps the session at one hour anyway.
  max_session_duration = 3600

  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = var.name
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.permissions.json

  lifecycle {
    # IAM's 10,240-character quota for a role's inline policies (whitespace not counted): each protected pattern
    # adds up to two ARNs to the Deny, each protected resource one. Checked at apply when the ARNs are known.
    precondition {
      condition     = length(replace(data.aws_iam_policy_document.permissions.json, "/\\s+/", "")) <= 10240
      error_message = "The member role's policy exceeds IAM's 10,240-character inline policy quota: shorten protected_role_patterns or protected_resource_arns."
    }
  }
}
