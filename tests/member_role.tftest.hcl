# No drift between the central Lambda role and the member role: the member role (modules/member-role), the template
# of its StackSet (modules/member-role-stackset) and the root module's Lambda role grant the same remediation
# statements for the same inputs, all of them from modules/permissions. The member account is the central one
# here (the mocked caller identity), so even the ARNs must be equal.

mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }

  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333", arn = "arn:aws:iam::111122223333:user/terraform" }
  }

  mock_data "aws_region" {
    defaults = { id = "us-west-2", name = "us-west-2" }
  }

  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }

  mock_resource "aws_accessanalyzer_analyzer" {
    defaults = { arn = "arn:aws:access-analyzer:us-west-2:111122223333:analyzer/access-analyzer-remediation" }
  }

  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:us-west-2:111122223333:key/55555555-5555-5555-5555-555555555555" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-west-2:111122223333:access-analyzer-remediation" }
  }

  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:us-west-2:111122223333:table/access-analyzer-remediation-audit" }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-west-2:111122223333:log-group:/aws/lambda/access-analyzer-remediation" }
  }

  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:us-west-2:111122223333:rule/access-analyzer-remediation" }
  }

  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:us-west-2:111122223333:function:access-analyzer-remediation" }
  }

  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:us-west-2:111122223333:access-analyzer-remediation"
      url = "https://sqs.us-west-2.amazonaws.com/111122223333/access-analyzer-remediation"
    }
  }

  override_resource {
    target = aws_iam_role.lambda
    values = { arn = "arn:aws:iam::111122223333:role/access-analyzer-remediation-lambda-us-west-2" }
  }

  override_resource {
    target = aws_iam_role.scheduler
    values = { arn = "arn:aws:iam::111122223333:role/access-analyzer-remediation-scheduler-us-west-2" }
  }
}

variables {
  notification_email = "security@example.com"
  central_role_arn   = "arn:aws:iam::111122223333:role/access-analyzer-remediation-lambda-us-west-2"
  resource_types = [
    "AWS::IAM::Role", "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::SQS::Queue", "AWS::SNS::Topic",
    "AWS::SecretsManager::Secret", "AWS::ECR::Repository", "AWS::EFS::FileSystem", "AWS::DynamoDB::Table",
    "AWS::DynamoDB::Stream", "AWS::S3Express::DirectoryBucket", "AWS::Lambda::Function", "AWS::Lambda::LayerVersion",
    "AWS::EC2::Snapshot", "AWS::RDS::DBSnapshot", "AWS::RDS::DBClusterSnapshot",
  ]
  # One protected resource per service, so every type's Deny exists in the member role too.
  protected_resource_arns = [
    "arn:aws:s3:::audit-logs",
    "arn:aws:kms:us-west-2:111122223333:key/66666666-6666-6666-6666-666666666666",
    "arn:aws:sqs:us-west-2:111122223333:payments",
    "arn:aws:sns:us-west-2:111122223333:alerts",
    "arn:aws:secretsmanager:us-west-2:111122223333:secret:db-AbCdEf",
    "arn:aws:ecr:us-west-2:111122223333:repository/base",
    "arn:aws:elasticfilesystem:us-west-2:111122223333:file-system/fs-0123456789abcdef0",
    "arn:aws:dynamodb:us-west-2:111122223333:table/ledger",
    "arn:aws:s3express:us-west-2:111122223333:bucket/logs--usw2-az1--x-s3",
    "arn:aws:lambda:us-west-2:111122223333:function:payments",
    "arn:aws:lambda:us-west-2:111122223333:layer:shared",
    "arn:aws:ec2:us-west-2::snapshot/snap-0123456789abcdef0",
    "arn:aws:rds:us-west-2:111122223333:snapshot:nightly",
  ]
}

run "member_role" {
  command = apply

  module {
    source = "./modules/member-role"
  }

  assert {
    condition     = length(output.permission_statements) == 34
    error_message = "Every type's Allow and Deny, the role statements and NeverEditItself."
  }
}

run "stack_set" {
  command = apply

  module {
    source = "./modules/member-role-stackset"
  }

  variables {
    organizational_unit_ids = ["ou-ab12-cdef3456"]
  }

  # The template's policy, with each account's id where CloudFormation puts it, is the member role's.
  assert {
    condition = jsonencode([
      for s in jsondecode(output.template_body).Resources.MemberRole.Properties.Policies[0].PolicyDocument.Statement : {
        sid       = s.Sid
        effect    = s.Effect
        actions   = s.Action
        resources = [for r in s.Resource : try(replace(r["Fn::Sub"], "$${AWS::AccountId}", "111122223333"), r)]
        conditions = flatten([for test, variables in try(s.Condition, {}) : [
          for variable, values in variables : {
            test = test, variable = variable, values = [for v in values : try(replace(v["Fn::Sub"], "$${AWS::AccountId}", "111122223333"), v)]
          }
        ]])
      }
    ]) == jsonencode(run.member_role.permission_statements)
    error_message = "The StackSet's template carries modules/permissions' statements, the member role's."
  }
}

run "lambda_role" {
  command = apply

  variables {
    # The test's destroy must get past the destroy guard (uninstall.tf).
    audit_table_deletion_protection = false
  }

  # Every Allow of the member role is in the Lambda role, identical (actions, resources, conditions).
  assert {
    condition = {
      for s in data.aws_iam_policy_document.lambda.statement : s.sid => jsonencode([
        sort(s.actions), sort(s.resources), [for c in s.condition : [c.test, c.variable, c.values]]
      ]) if contains([for m in run.member_role.permission_statements : m.sid if m.effect == "Allow"], s.sid)
      } == {
      for m in run.member_role.permission_statements : m.sid => jsonencode([
        sort(m.actions), sort(m.resources), [for c in m.conditions : [c.test, c.variable, c.values]]
      ]) if m.effect == "Allow"
    }
    error_message = "The member role's Allow statements are the Lambda role's."
  }

  # The same Denies of the same actions; each denies at least the member role's resources (the Lambda role also
  # its deployment's own queues, topic, table, function and roles, the member role itself).
  assert {
    condition = {
      for s in data.aws_iam_policy_document.lambda.statement : s.sid => sort(s.actions) if s.effect == "Deny"
      } == {
      for m in run.member_role.permission_statements : m.sid => sort(m.actions) if m.effect == "Deny" && m.sid != "NeverEditItself"
    }
    error_message = "The member role has exactly the Lambda role's Denies (and NeverEditItself)."
  }

  assert {
    condition = alltrue([
      for m in run.member_role.permission_statements : length(setsubtract(
        setsubtract(m.resources, ["arn:aws:iam::111122223333:role/access-analyzer-remediation-member"]),
        one([for s in data.aws_iam_policy_document.lambda.statement : s.resources if s.sid == m.sid]),
      )) == 0 if m.effect == "Deny" && m.sid != "NeverEditItself"
    ])
    error_message = "Each Deny of the Lambda role covers every resource the member role's covers."
  }

  # Nothing of the remediation part is the Lambda role's alone: its other statements are its deployment's.
  assert {
    condition = setsubtract([for s in data.aws_iam_policy_document.lambda.statement : s.sid], [for m in run.member_role.permission_statements : m.sid]) == toset([
      "ReadFindings", "AuditTable", "PublishDigest", "CheckSubscriptions", "ConsumeQueue", "EnqueueSweptFindings", "ProveChanges", "ConfirmChanges", "RecordConfirmations", "WriteLogs", "KmsViaSns",
    ])
    error_message = "The Lambda role's statements are the member role's plus its deployment-only ones."
  }
}
