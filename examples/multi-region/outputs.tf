output "iam_role_names" {
  description = "Names of the IAM roles of each Region's deployment (IAM is global to the account: the names carry the Region)."
  value = {
    (var.primary_region)   = { lambda = module.primary.lambda_role_name, scheduler = module.primary.scheduler_role_name }
    (var.secondary_region) = { lambda = module.secondary.lambda_role_name, scheduler = module.secondary.scheduler_role_name }
  }
}

output "lambda_role_arns" {
  description = "ARN of the Lambda execution role of each Region's deployment (the principal member roles trust, per Region)."
  value = {
    (var.primary_region)   = module.primary.lambda_role_arn
    (var.secondary_region) = module.secondary.lambda_role_arn
  }
}

output "cli_environments" {
  description = "Shell export lines for the aa-remediate CLI, per Region (the CLI works on one deployment at a time)."
  value = {
    (var.primary_region)   = module.primary.cli_environment
    (var.secondary_region) = module.secondary.cli_environment
  }
}
