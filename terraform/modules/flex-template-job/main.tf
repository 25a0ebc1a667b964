# One launch of the catalog render from its Flex Template (built by
# pipelines/catalog-render/template/build.sh). A batch job: terraform creates it once and records
# its id; to render again, `terraform apply -replace=...` or launch with gcloud (README, Run on
# Dataflow). The parameters are the template's (metadata.json); nothing else is passed.
resource "google_dataflow_flex_template_job" "render" {
  provider = google-beta

  project                 = var.project_id
  region                  = var.region
  name                    = var.job_name
  container_spec_gcs_path = var.template_spec_gcs_path
  service_account_email   = var.service_account_email
  temp_location           = var.temp_location
  staging_location        = var.staging_location
  machine_type            = var.machine_type
  num_workers             = var.num_workers
  max_workers             = var.max_workers
  additional_experiments  = var.additional_experiments
  sdk_container_image     = var.sdk_container_image
  labels                  = var.labels
  # Destroying the resource cancels a running render; outputs published so far stay, and a
  # re-run skips them.
  on_delete = "cancel"

  parameters = {
    catalog       = var.catalog
    outputPrefix  = var.output_prefix
    resultsPrefix = var.results_prefix
    format        = var.format
    platform      = var.platform
    overwrite     = tostring(var.overwrite)
    diskSizeGb    = tostring(var.disk_size_gb)
  }
}
