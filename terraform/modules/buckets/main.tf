# The four buckets of a render: catalogs in, outputs and results out, and Dataflow's staging/temp
# area. All use uniform bucket-level access (IAM only, no object ACLs) and refuse public access, so
# the per-bucket IAM of the worker-identity module is the whole access story.
locals {
  buckets = {
    catalogs = "${var.name_prefix}-catalogs"
    outputs  = "${var.name_prefix}-outputs"
    results  = "${var.name_prefix}-results"
    temp     = "${var.name_prefix}-temp"
  }
}

resource "google_storage_bucket" "catalogs" {
  project                     = var.project_id
  name                        = local.buckets.catalogs
  location                    = var.location
  labels                      = var.labels
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  # Catalogs are small and edited by people: keep old versions for a while.
  versioning {
    enabled = true
  }
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket" "outputs" {
  project                     = var.project_id
  name                        = local.buckets.outputs
  location                    = var.location
  labels                      = var.labels
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  # No versioning: outputs are content-addressed by manifest digest and replaced only with --overwrite.
}

resource "google_storage_bucket" "results" {
  project                     = var.project_id
  name                        = local.buckets.results
  location                    = var.location
  labels                      = var.labels
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  # Results and dead letters are run records: kept for var.results_retention_days.
  lifecycle_rule {
    condition {
      age = var.results_retention_days
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket" "temp" {
  project                     = var.project_id
  name                        = local.buckets.temp
  location                    = var.location
  labels                      = var.labels
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  # Nothing here is precious: staging jars, TextIO temp files, the template spec (rebuilt by build.sh).
  force_destroy = true
  # Soft delete would keep every deleted temp file billable for 7 days; temp files are churned by design.
  soft_delete_policy {
    retention_duration_seconds = 0
  }

  lifecycle_rule {
    condition {
      age            = var.temp_retention_days
      matches_prefix = ["tmp/"]
    }
    action {
      type = "Delete"
    }
  }
  lifecycle_rule {
    condition {
      age            = var.staging_retention_days
      matches_prefix = ["staging/"]
    }
    action {
      type = "Delete"
    }
  }
}
