output "job_id" {
  description = "Dataflow job id of the launched render."
  value       = google_dataflow_flex_template_job.render.job_id
}

output "state" {
  description = "Job state as terraform last saw it."
  value       = google_dataflow_flex_template_job.render.state
}
