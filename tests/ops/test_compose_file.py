"""docker-compose.yml, the Dockerfile and the start scripts keep the promises ops rely on.

Read as files, so these run without Docker. The checks that need the Docker CLI (compose's own
validation) skip cleanly where there is none; deploy/verify-stack.sh runs the stack for real.
"""

import re
import shutil
import subprocess

import pytest
import yaml

from tests.ops.conftest import ROOT

APP_SERVICES = ("migrate", "web", "bot", "worker", "beat")
LONG_RUNNING_APP = ("web", "bot", "worker", "beat")
DESIGN_SETTINGS = (
    "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "EMAIL_URL", "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_URL", "TELEGRAM_WEBHOOK_URL", "TELEGRAM_WEBHOOK_SECRET", "TIME_ZONE",
)


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def published_ports(service: dict) -> list[str]:
    return [str(port) for port in service.get("ports", [])]


def test_postgres_and_redis_publish_no_port(services):
    assert published_ports(services["postgres"]) == []
    assert published_ports(services["redis"]) == []


def test_every_published_port_is_bound_to_localhost_only(services):
    ports = [port for service in services.values() for port in published_ports(service)]
    assert ports, "web is published for the reverse proxy"
    assert all(port.startswith("127.0.0.1:") for port in ports), ports


def test_web_bot_worker_beat_and_migrate_are_one_image(services):
    images = {(services[name]["image"], str(services[name]["build"])) for name in APP_SERVICES}
    assert len(images) == 1


def test_the_app_starts_after_migrations_and_healthy_postgres_and_redis(services):
    for name in LONG_RUNNING_APP:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no", "a one-shot job"


def test_every_long_running_service_but_backup_has_a_healthcheck(services):
    for name in ("postgres", "redis", "web", "worker", "bot", "beat"):
        assert services[name]["healthcheck"]["test"], name


def test_bot_and_beat_are_checked_by_their_heartbeat_files(services):
    for name in ("bot", "beat"):
        assert services[name]["healthcheck"]["test"] == ["CMD", "python", "/app/deploy/healthcheck.py", name]
        assert services[name]["environment"]["HEARTBEAT_FILE"].startswith("/tmp/"), "writable by the app user"
        assert services[name]["environment"]["SECRET_KEY"] == services["web"]["environment"]["SECRET_KEY"]


def test_exactly_one_beat_with_the_database_scheduler(services):
    beat = services["beat"]
    assert beat.get("deploy", {}).get("replicas", 1) == 1
    assert "scale" not in beat
    script = (ROOT / beat["command"][0].removeprefix("/app/")).read_text()
    assert "--scheduler config.beat:HeartbeatScheduler" in script
    from django_celery_beat.schedulers import DatabaseScheduler

    from config.beat import HeartbeatScheduler

    assert issubclass(HeartbeatScheduler, DatabaseScheduler), "the schedule lives in the database"


def test_data_lives_in_named_volumes(services):
    assert services["postgres"]["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert services["redis"]["volumes"] == ["redis-data:/data"]
    assert "media:/app/media" in services["web"]["volumes"]


def test_every_setting_of_the_design_reaches_the_app_and_is_documented(services):
    environment = services["web"]["environment"]
    example = (ROOT / ".env.example").read_text()
    for name in DESIGN_SETTINGS:
        assert name in environment, name
        assert re.search(rf"^#?\s*{name}=", example, re.MULTILINE), f"{name} missing from .env.example"


# Set inside the image (Dockerfile), not by the installer.
IMAGE_SETTINGS = {"HEARTBEAT_FILE", "MEDIA_ROOT", "STATIC_ROOT"}


def test_every_setting_the_app_reads_can_be_set_in_env(services):
    """A setting the README names but compose does not pass would do nothing from .env."""
    read = set(re.findall(r'(?:env\.\w+|_number|_names)\("([A-Z_]+)"', (ROOT / "config/settings.py").read_text()))
    read |= {"HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"}  # read from the environment by aiohttp and httpx
    environment = services["web"]["environment"]
    example = (ROOT / ".env.example").read_text()
    assert len(read) > 20
    for name in sorted(read - IMAGE_SETTINGS):
        assert name in environment, f"{name} is not passed to the app"
        assert re.search(rf"^#?\s*{name}=", example, re.MULTILINE), f"{name} missing from .env.example"


def test_env_example_explains_every_line_in_russian():
    lines = (ROOT / ".env.example").read_text().splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^#?\s*[A-Z_]+=", line):
            comment = lines[index - 1]
            assert comment.startswith("#") and re.search("[а-яА-Я]", comment), f"no Russian comment above {line!r}"


@pytest.mark.parametrize("script", sorted((ROOT / "deploy").glob("*.sh")), ids=lambda path: path.name)
def test_deploy_scripts_stop_at_the_first_error(script):
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -o errexit -o pipefail -o nounset" in text


@pytest.mark.parametrize("name", ["start-web.sh", "start-bot.sh", "start-worker.sh", "start-beat.sh", "migrate.sh"])
def test_start_scripts_exec_the_process_so_it_gets_the_stop_signal(name):
    last_command = [line for line in (ROOT / "deploy" / name).read_text().splitlines() if line and line[0] not in "# "][-1]
    assert last_command.startswith("exec "), last_command


def test_the_image_runs_as_a_non_root_user_without_compilers():
    dockerfile = (ROOT / "Dockerfile").read_text()
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    users = re.findall(r"^USER (\S+)", final_stage, re.MULTILINE)
    assert users and users[-1] not in ("root", "0", "0:0")
    assert not re.search(r"\b(gcc|build-essential|g\+\+|clang)\b", final_stage)
    assert "--only-binary=:all:" in dockerfile
    assert "-r /tmp/requirements.txt" in dockerfile


def docker_compose_available() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


@pytest.mark.skipif(not docker_compose_available(), reason="needs the Docker CLI with the compose plugin")
def test_docker_compose_accepts_the_file_with_the_example_settings(tmp_path):
    # The example leaves the secrets empty on purpose; an operator fills them in.
    filled = "\nSECRET_KEY=x\nALLOWED_HOSTS=sto.example.ru\nPOSTGRES_PASSWORD=x\n"
    env_file = tmp_path / "compose.env"
    env_file.write_text((ROOT / ".env.example").read_text() + filled)
    result = subprocess.run(
        ["docker", "compose", "--env-file", str(env_file), "config", "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(not docker_compose_available(), reason="needs the Docker CLI with the compose plugin")
def test_docker_compose_refuses_to_start_without_the_secrets(tmp_path):
    env_file = tmp_path / "compose.env"
    env_file.write_text((ROOT / ".env.example").read_text())
    result = subprocess.run(
        ["docker", "compose", "--env-file", str(env_file), "config", "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "укажите SECRET_KEY в .env" in result.stderr or "укажите POSTGRES_PASSWORD в .env" in result.stderr
