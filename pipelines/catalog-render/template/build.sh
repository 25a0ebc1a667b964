#!/usr/bin/env bash
# Builds the catalog-render Flex Template: the shaded jar, the launcher image (pushed to Artifact
# Registry), and the template spec file in Cloud Storage that a launch points at.
#
#   pipelines/catalog-render/template/build.sh
#
# Settings (environment; terraform output prints them, see README "Run on Dataflow"):
#   PROJECT        Google Cloud project id                                  (required)
#   REGION         Artifact Registry and Dataflow region                    (default us-central1)
#   REPOSITORY     Artifact Registry Docker repository                      (default ocirender)
#   TEMPLATE_GCS   where the spec goes, gs://BUCKET/templates/catalog-render.json (required)
#   TAG            image tag                                                (default: git commit)
#   WORKER_IMAGE   1: also build and push the worker SDK image with squashfs-tools (default 0)
#   DRY_RUN        1: print the commands instead of running them (no Docker, no Google)
# Needs docker (logged in with `gcloud auth configure-docker REGION-docker.pkg.dev`) and gcloud.
set -euo pipefail
cd "$(dirname "$0")/../../.."

: "${PROJECT:?set PROJECT}"
: "${TEMPLATE_GCS:?set TEMPLATE_GCS to gs://BUCKET/templates/catalog-render.json}"
REGION=${REGION:-us-central1}
REPOSITORY=${REPOSITORY:-ocirender}
TAG=${TAG:-$(git rev-parse --short=12 HEAD)}
WORKER_IMAGE=${WORKER_IMAGE:-0}
registry="$REGION-docker.pkg.dev/$PROJECT/$REPOSITORY"
launcher="$registry/catalog-render-launcher:$TAG"
worker="$registry/catalog-render-worker:$TAG"
dir=pipelines/catalog-render/template

run() {
  if [[ ${DRY_RUN:-0} == 1 ]]; then
    printf '%q ' "$@"
    echo
  else
    "$@"
  fi
}

run mvn -B -q -DskipTests package
run docker build --target launcher -f "$dir/Dockerfile" -t "$launcher" .
run docker push "$launcher"
if [[ $WORKER_IMAGE == 1 ]]; then
  run docker build --target worker -f "$dir/Dockerfile" -t "$worker" .
  run docker push "$worker"
  echo "worker image: $worker (terraform: sdk_container_image; or --sdkContainerImage)"
fi
# The spec file: the launcher image, the language and the parameters of metadata.json, which Dataflow
# checks (names, regexes, required ones) before it starts the launcher.
run gcloud dataflow flex-template build "$TEMPLATE_GCS" \
  --project="$PROJECT" \
  --image="$launcher" \
  --sdk-language=JAVA \
  --metadata-file="$dir/metadata.json"
echo "template: $TEMPLATE_GCS"
