variable "project_id" {
  description = "Project to run the job in."
  type        = string
}

variable "region" {
  description = "Dataflow region of the job (and of its launcher VM)."
  type        = string
}

variable "job_name" {
  description = "Dataflow job name: lowercase letters, digits and hyphens."
  type        = string
}

variable "template_spec_gcs_path" {
  description = "gs:// path of the Flex Template spec that build.sh wrote (TEMPLATE_GCS)."
  type        = string
}

variable "service_account_email" {
  description = "Service account the launcher and the workers run as (the worker-identity module's email)."
  type        = string
}

variable "temp_location" {
  description = "gs:// prefix for Dataflow temp files (temp bucket, tmp/)."
  type        = string
}

variable "staging_location" {
  description = "gs:// prefix for staged jars (temp bucket, staging/)."
  type        = string
}

variable "catalog" {
  description = "Template parameter catalog: gs:// path or glob of the catalog JSON Lines."
  type        = string
}

variable "output_prefix" {
  description = "Template parameter outputPrefix: gs:// prefix for outputs that a catalog line does not name."
  type        = string
}

variable "results_prefix" {
  description = "Template parameter resultsPrefix: gs:// prefix of this run's results and dead letters, ending in /."
  type        = string
}

variable "format" {
  description = "Template parameter format: default output format (tar, or squashfs where supported)."
  type        = string
  default     = "tar"
}

variable "platform" {
  description = "Template parameter platform: default os/arch[/variant]."
  type        = string
  default     = "linux/amd64"
}

variable "overwrite" {
  description = "Template parameter overwrite: render again outputs that already exist."
  type        = bool
  default     = false
}

variable "disk_size_gb" {
  description = "Template parameter diskSizeGb: worker boot disk, GB; room for the blob and layer caches and squashfs temp files (README, operating notes)."
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

variable "additional_experiments" {
  description = "Dataflow experiments; use_runner_v2 is what allows a custom worker image (sdk_container_image)."
  type        = list(string)
  default     = ["use_runner_v2"]
}

variable "sdk_container_image" {
  description = "Optional worker SDK image with squashfs-tools (build.sh WORKER_IMAGE=1); null for Beam's default image."
  type        = string
  default     = null
}

variable "labels" {
  description = "Labels on the job."
  type        = map(string)
  default     = {}
}
