# The Google APIs a catalog render needs. Enabling is idempotent; disabling on destroy is off,
# because other workloads in the project may use the same APIs.
resource "google_project_service" "this" {
  for_each = toset(var.services)

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
