variable "project_id" {
  description = "Project that owns the buckets."
  type        = string
}

variable "name_prefix" {
  description = "Bucket names are NAME_PREFIX-catalogs, -outputs, -results and -temp; bucket names are global, so make it unique (e.g. the project id)."
  type        = string
}

variable "location" {
  description = "Bucket location: the Dataflow region (e.g. us-central1), so that workers read and write in-region."
  type        = string
}

variable "labels" {
  description = "Labels on every bucket."
  type        = map(string)
  default     = {}
}

variable "results_retention_days" {
  description = "Days to keep results and dead-letter files."
  type        = number
  default     = 365
}

variable "temp_retention_days" {
  description = "Days after which Dataflow temp files (temp bucket, tmp/) are deleted; a job never runs this long."
  type        = number
  default     = 7
}

variable "staging_retention_days" {
  description = "Days after which staged jars (temp bucket, staging/) are deleted; a launch stages them again when missing. Keep the templates/ prefix out of this rule: it holds the Flex Template spec."
  type        = number
  default     = 30
}
