output "catalogs_bucket" {
  description = "Upload catalogs here."
  value       = module.buckets.catalogs
}

output "outputs_bucket" {
  description = "Rendered filesystems land here."
  value       = module.buckets.outputs
}

output "results_bucket" {
  description = "results-*.jsonl and dead-letters-*.jsonl land here, under runs/JOB_NAME/."
  value       = module.buckets.results
}

output "temp_bucket" {
  description = "Dataflow staging and temp files, and the template spec."
  value       = module.buckets.temp
}

output "worker_service_account" {
  description = "Email of the service account the job runs as."
  value       = module.worker.email
}

output "image_repository" {
  description = "Docker prefix for build.sh (REGION-docker.pkg.dev/PROJECT/REPOSITORY)."
  value       = module.images.docker_prefix
}

output "template_spec_gcs_path" {
  description = "Where build.sh must write the template spec (TEMPLATE_GCS)."
  value       = local.template_spec_gcs_path
}

output "job_id" {
  description = "Id of the launched render job; null while launch_render is false."
  value       = var.launch_render ? module.render[0].job_id : null
}
