resource "aws_accessanalyzer_analyzer" "this" {
  count = var.create_analyzer ? 1 : 0

  analyzer_name = var.name
  type          = var.analyzer_type

  tags = var.tags
}
