output "catalogs" {
  description = "Bucket for catalogs (JSON Lines)."
  value       = google_storage_bucket.catalogs.name
}

output "outputs" {
  description = "Bucket for rendered filesystems."
  value       = google_storage_bucket.outputs.name
}

output "results" {
  description = "Bucket for results and dead letters."
  value       = google_storage_bucket.results.name
}

output "temp" {
  description = "Bucket for Dataflow staging (staging/), temp files (tmp/) and the Flex Template spec (templates/)."
  value       = google_storage_bucket.temp.name
}
