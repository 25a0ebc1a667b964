variable "project_id" {
  description = "Project to enable the APIs in."
  type        = string
}

variable "services" {
  description = "APIs to enable: Dataflow (jobs), Compute (worker VMs), Storage (buckets), Artifact Registry (launcher image), Logging and Monitoring (worker logs, job metrics), IAM (the worker service account), Secret Manager (registry credentials)."
  type        = list(string)
  default = [
    "dataflow.googleapis.com",
    "compute.googleapis.com",
    "storage.googleapis.com",
    "artifactregistry.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "iam.googleapis.com",
    "secretmanager.googleapis.com",
  ]
}
