# Everything a catalog render on Dataflow needs, in one project: APIs, buckets, the worker
# identity with per-bucket access, the image repository, and (when launch_render is true) one
# launch of the Flex Template. Order of use (README, Run on Dataflow):
#   1. terraform apply                      (launch_render = false: infrastructure only)
#   2. pipelines/catalog-render/template/build.sh   (image + spec into the temp bucket)
#   3. upload a catalog to the catalogs bucket
#   4. terraform apply -var launch_render=true -var catalog_object=...

module "services" {
  source     = "../../modules/project-services"
  project_id = var.project_id
}

module "buckets" {
  source      = "../../modules/buckets"
  project_id  = var.project_id
  name_prefix = var.name_prefix
  location    = var.region
  labels      = var.labels

  depends_on = [module.services]
}

module "images" {
  source        = "../../modules/artifact-registry"
  project_id    = var.project_id
  location      = var.region
  repository_id = var.repository_id
  labels        = var.labels

  depends_on = [module.services]
}

module "worker" {
  source                      = "../../modules/worker-identity"
  project_id                  = var.project_id
  account_id                  = var.worker_account_id
  catalogs_bucket             = module.buckets.catalogs
  outputs_bucket              = module.buckets.outputs
  results_bucket              = module.buckets.results
  temp_bucket                 = module.buckets.temp
  repository_location         = module.images.location
  repository_id               = module.images.repository_id
  registry_credential_secrets = var.registry_credential_secrets
  launcher_members            = var.launcher_members

  depends_on = [module.services]
}

locals {
  template_spec_gcs_path = "gs://${module.buckets.temp}/templates/catalog-render.json"
}

module "render" {
  source = "../../modules/flex-template-job"
  count  = var.launch_render ? 1 : 0

  project_id             = var.project_id
  region                 = var.region
  job_name               = var.job_name
  template_spec_gcs_path = local.template_spec_gcs_path
  service_account_email  = module.worker.email
  temp_location          = "gs://${module.buckets.temp}/tmp"
  staging_location       = "gs://${module.buckets.temp}/staging"
  catalog                = "gs://${module.buckets.catalogs}/${var.catalog_object}"
  output_prefix          = "gs://${module.buckets.outputs}/${var.output_path}"
  results_prefix         = "gs://${module.buckets.results}/runs/${var.job_name}/"
  format                 = var.format
  platform               = var.platform
  overwrite              = var.overwrite
  disk_size_gb           = var.disk_size_gb
  machine_type           = var.machine_type
  num_workers            = var.num_workers
  max_workers            = var.max_workers
  sdk_container_image    = var.sdk_container_image
  labels                 = var.labels

  # The worker must be able to read the catalog and write everywhere before the job starts.
  depends_on = [module.worker]
}
