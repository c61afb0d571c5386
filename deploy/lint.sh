#!/usr/bin/env bash
# Lint the deployment files: hadolint (Dockerfiles), shellcheck (scripts), `docker compose config`
# and the compose-spec JSON schema (check-jsonschema). Each tool is looked up on PATH; the Docker
# sandbox (../shared/tools/docker-sandbox.sh up) installs hadolint and check-jsonschema in its venv.
set -o errexit -o pipefail -o nounset
cd "$(dirname "$0")/.."

missing=()
need() { command -v "$1" > /dev/null || missing+=("$1"); }
need hadolint
need shellcheck
need check-jsonschema
need docker
if [ "${#missing[@]}" -gt 0 ]; then
  echo "lint: missing ${missing[*]} (add the docker sandbox's venv/bin to PATH, apt install shellcheck)" >&2
  exit 2
fi

hadolint Dockerfile deploy/images/*/Dockerfile deploy/verify/Dockerfile && echo "hadolint: clean"
shellcheck deploy/*.sh deploy/images/*/docker-entrypoint.sh && echo "shellcheck: clean"
check-jsonschema --builtin-schema vendor.compose-spec \
  docker-compose.yml deploy/images/compose.sandbox.yml deploy/verify/compose.verify.yml
# Compose needs the required secrets to render the file: throwaway values, never written to .env.
SECRET_KEY=lint ALLOWED_HOSTS=lint.invalid POSTGRES_PASSWORD=lint docker compose --env-file .env.example config --quiet
SECRET_KEY=lint ALLOWED_HOSTS=lint.invalid POSTGRES_PASSWORD=lint \
  docker compose --env-file .env.example -f docker-compose.yml -f deploy/images/compose.sandbox.yml config --quiet
# The verification's stand-in on top (deploy/verify-stack.sh); it needs a token to render.
SECRET_KEY=lint ALLOWED_HOSTS=lint.invalid POSTGRES_PASSWORD=lint TELEGRAM_BOT_TOKEN=1:lint \
  docker compose --env-file .env.example -f docker-compose.yml -f deploy/images/compose.sandbox.yml \
  -f deploy/verify/compose.verify.yml config --quiet
echo "docker compose config: valid"
