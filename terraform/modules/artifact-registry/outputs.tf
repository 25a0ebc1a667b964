output "repository_id" {
  description = "Repository name."
  value       = google_artifact_registry_repository.images.repository_id
}

output "location" {
  description = "Repository region."
  value       = google_artifact_registry_repository.images.location
}

output "docker_prefix" {
  description = "Image name prefix to push to: LOCATION-docker.pkg.dev/PROJECT/REPOSITORY."
  value       = "${google_artifact_registry_repository.images.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}
