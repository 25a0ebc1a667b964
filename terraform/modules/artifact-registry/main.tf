# The Docker repository for the Flex Template launcher image (and the optional worker SDK image
# with squashfs-tools). build.sh pushes to LOCATION-docker.pkg.dev/PROJECT/REPOSITORY.
resource "google_artifact_registry_repository" "images" {
  project       = var.project_id
  location      = var.location
  repository_id = var.repository_id
  format        = "DOCKER"
  description   = "ocirender Flex Template launcher and worker images"
  labels        = var.labels

  # Every build pushes a new tag (the git commit); old untagged layers are not worth keeping.
  cleanup_policies {
    id     = "delete-untagged"
    action = "DELETE"
    condition {
      tag_state  = "UNTAGGED"
      older_than = "604800s"
    }
  }
}
