variable "project_id" {
  description = "Project of the service account and of its project-level roles."
  type        = string
}

variable "account_id" {
  description = "Service account id (the part before @); 6 to 30 characters."
  type        = string
  default     = "ocirender-worker"
}

variable "catalogs_bucket" {
  description = "Bucket the worker reads catalogs from (objectViewer)."
  type        = string
}

variable "outputs_bucket" {
  description = "Bucket the worker writes rendered filesystems to (objectUser)."
  type        = string
}

variable "results_bucket" {
  description = "Bucket the worker writes results and dead letters to (objectUser)."
  type        = string
}

variable "temp_bucket" {
  description = "Dataflow staging/temp bucket (objectAdmin and legacyBucketReader)."
  type        = string
}

variable "repository_location" {
  description = "Region of the Artifact Registry repository that holds the launcher image."
  type        = string
}

variable "repository_id" {
  description = "Artifact Registry repository the worker pulls images from (reader)."
  type        = string
}

variable "registry_credential_secrets" {
  description = "Secret Manager secret ids (in project_id) holding credentials for private image registries; the worker may read exactly these."
  type        = list(string)
  default     = []
}

variable "launcher_members" {
  description = "Principals allowed to launch jobs as the worker account (roles/iam.serviceAccountUser on it), e.g. [\"user:alice@example.com\", \"group:render-operators@example.com\"]."
  type        = list(string)
  default     = []
}
