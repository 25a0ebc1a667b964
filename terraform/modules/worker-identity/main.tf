# The identity Dataflow's launcher and workers run as. Least privilege: Dataflow's worker role and
# log/metric writing at project level (they are not tied to a bucket), and storage only per bucket,
# each with the narrowest role the pipeline's use of that bucket needs. No key is created: workers
# get tokens from the metadata server, and people launch jobs by impersonation (launcher_members).
resource "google_service_account" "worker" {
  project      = var.project_id
  account_id   = var.account_id
  display_name = "ocirender Dataflow worker"
  description  = "Runs the ocirender catalog render (Flex Template launcher and Dataflow workers)."
}

# Project-level roles, listed here and nowhere else so that a review (and the structural test in
# src/test) sees every one: none of them grants storage access.
resource "google_project_iam_member" "worker" {
  for_each = toset([
    "roles/dataflow.worker",
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
  ])

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.worker.email}"
}

# Catalogs are only read (FileSystems.match lists, then reads).
resource "google_storage_bucket_iam_member" "catalogs_read" {
  bucket = var.catalogs_bucket
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.worker.email}"
}

# Outputs: read (existing outputs are skipped by their metadata), create, and replace with
# --overwrite (a generation-matched rewrite needs delete). objectUser, not objectAdmin: no IAM on objects.
resource "google_storage_bucket_iam_member" "outputs_write" {
  bucket = var.outputs_bucket
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.worker.email}"
}

# Results: TextIO writes temporary files and renames (copy + delete) them into place.
resource "google_storage_bucket_iam_member" "results_write" {
  bucket = var.results_bucket
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.worker.email}"
}

# Staging/temp: Dataflow stages jars and writes temp files here, and the launcher reads the
# template spec. objectAdmin for objects; legacyBucketReader for storage.buckets.get, which Beam's
# path validation calls to check that the temp location is accessible.
resource "google_storage_bucket_iam_member" "temp_objects" {
  bucket = var.temp_bucket
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.worker.email}"
}

resource "google_storage_bucket_iam_member" "temp_bucket_metadata" {
  bucket = var.temp_bucket
  role   = "roles/storage.legacyBucketReader"
  member = "serviceAccount:${google_service_account.worker.email}"
}

# The launcher VM pulls the launcher image (and workers a custom SDK image) as this account.
resource "google_artifact_registry_repository_iam_member" "images_read" {
  project    = var.project_id
  location   = var.repository_location
  repository = var.repository_id
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:${google_service_account.worker.email}"
}

# Private registries: read access to the secrets that hold their credentials, one secret at a time.
resource "google_secret_manager_secret_iam_member" "registry_credentials" {
  for_each = toset(var.registry_credential_secrets)

  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.worker.email}"
}

# Who may launch jobs as this account (gcloud dataflow flex-template run --service-account-email,
# or terraform apply of the render job): actAs on this one account, not project-wide.
resource "google_service_account_iam_member" "launchers" {
  for_each = toset(var.launcher_members)

  service_account_id = google_service_account.worker.name
  role               = "roles/iam.serviceAccountUser"
  member             = each.value
}
