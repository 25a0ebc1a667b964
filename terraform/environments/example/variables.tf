variable "project_id" {
  description = "Google Cloud project to build everything in."
  type        = string
}

variable "region" {
  description = "Region of the buckets, the image repository and the Dataflow job."
  type        = string
  default     = "us-central1"
}

variable "name_prefix" {
  description = "Prefix of the bucket names (NAME_PREFIX-catalogs, -outputs, -results, -temp); globally unique, e.g. the project id."
  type        = string
}

variable "labels" {
  description = "Labels on buckets, repository and job."
  type        = map(string)
  default     = { app = "ocirender" }
}

variable "repository_id" {
  description = "Artifact Registry repository for the launcher image (REPOSITORY in build.sh)."
  type        = string
  default     = "ocirender"
}

variable "worker_account_id" {
  description = "Account id of the worker service account."
  type        = string
  default     = "ocirender-worker"
}

variable "registry_credential_secrets" {
  description = "Secret Manager secret ids with private registry credentials that the worker may read."
  type        = list(string)
  default     = []
}

variable "launcher_members" {
  description = "Principals allowed to launch jobs as the worker account, e.g. [\"user:you@example.com\"]."
  type        = list(string)
  default     = []
}

variable "launch_render" {
  description = "true: launch one render from the Flex Template (build it first with build.sh); false: infrastructure only."
  type        = bool
  default     = false
}

variable "job_name" {
  description = "Dataflow job name, also the results folder: gs://RESULTS/runs/JOB_NAME/."
  type        = string
  default     = "ocirender-catalog-render"
}

variable "catalog_object" {
  description = "Catalog object name or glob in the catalogs bucket, e.g. public-registry-example.jsonl or weekly/*.jsonl."
  type        = string
  default     = "public-registry-example.jsonl"
}

variable "output_path" {
  description = "Folder in the outputs bucket for outputs that a catalog line does not name."
  type        = string
  default     = "rootfs"
}

variable "format" {
  description = "Default output format: tar, or squashfs where supported."
  type        = string
  default     = "tar"
}

variable "platform" {
  description = "Default platform, os/arch[/variant]."
  type        = string
  default     = "linux/amd64"
}

variable "overwrite" {
  description = "Render again outputs that already exist."
  type        = bool
  default     = false
}

variable "disk_size_gb" {
  description = "Worker boot disk, GB (blob and layer caches plus squashfs temp files; README, operating notes)."
  type        = number
  default     = 250
}

variable "machine_type" {
  description = "Worker machine type."
  type        = string
  default     = "n2-standard-4"
}

variable "num_workers" {
  description = "Workers at start."
  type        = number
  default     = 2
}

variable "max_workers" {
  description = "Upper bound for autoscaling."
  type        = number
  default     = 20
}

variable "sdk_container_image" {
  description = "Optional worker image with squashfs-tools (build.sh WORKER_IMAGE=1 prints it); null for Beam's default."
  type        = string
  default     = null
}
