variable "project_id" {
  description = "Project that owns the repository."
  type        = string
}

variable "location" {
  description = "Repository region; the Dataflow region, so that launches pull in-region."
  type        = string
}

variable "repository_id" {
  description = "Repository name (REPOSITORY in build.sh)."
  type        = string
  default     = "ocirender"
}

variable "labels" {
  description = "Labels on the repository."
  type        = map(string)
  default     = {}
}
