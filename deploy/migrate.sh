#!/usr/bin/env bash
# migrate: the one-shot service that brings the database schema up to date before the app starts.
# Static files are not collected here: they are part of the image (see the Dockerfile).
set -o errexit -o pipefail -o nounset

exec python manage.py migrate --noinput
