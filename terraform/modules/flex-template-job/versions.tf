terraform {
  required_version = ">= 1.5"
  required_providers {
    # google_dataflow_flex_template_job is a google-beta resource.
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 6.0"
    }
  }
}
