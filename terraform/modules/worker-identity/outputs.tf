output "email" {
  description = "Email of the worker service account (Dataflow service_account_email)."
  value       = google_service_account.worker.email
}

output "id" {
  description = "Fully qualified id of the worker service account."
  value       = google_service_account.worker.id
}
