"""Static checks of the container image and the Kubernetes manifests (deploy/container,
deploy/kubernetes; docs/scale-out.md).

Nothing is built, started or applied: the Containerfile is read as text and every manifest is
parsed with yaml (and the configuration inside the ConfigMap with tomllib), so this file needs
no aegis binary, no container engine and no cluster, and runs in well under a second. Each
test names a property the issue or docs/scale-out.md promises; removing the property from the
files makes the test fail.
"""

import functools
import pathlib
import re
import tomllib
import urllib.parse

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "kubernetes"
CONTAINERFILE = REPO / "deploy" / "container" / "Containerfile"
SCALE_OUT_DOC = REPO / "docs" / "scale-out.md"

DATA_PLANE_PORT = 8443
CONTROL_PLANE_PORT = 9443
USER_ID = 10001
WORKLOAD_NAME = "aegis"


@pytest.fixture(scope="module", autouse=True)
def _prerequisites():
    """Replaces conftest.py's session check for the aegis binary and the example models:
    these tests read files only."""


# --- Loading ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def kustomization():
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


@functools.lru_cache(maxsize=None)
def manifests():
    """Every object of every manifest file in deploy/kubernetes (kustomization.yaml aside),
    as (file name, object)."""
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                found.append((path.name, doc))
    assert found, f"no manifests in {K8S}"
    return tuple(found)


def objects(kind):
    return [doc for _, doc in manifests() if doc.get("kind") == kind]


def only(kind):
    docs = objects(kind)
    assert len(docs) == 1, f"expected exactly one {kind}, found {len(docs)}"
    return docs[0]


def workload():
    sets = [d for d in objects("StatefulSet") + objects("Deployment") if d["metadata"]["name"] == WORKLOAD_NAME]
    assert len(sets) == 1, f"expected one StatefulSet or Deployment named {WORKLOAD_NAME}"
    return sets[0]


def pod_spec():
    return workload()["spec"]["template"]["spec"]


def pod_labels():
    return workload()["spec"]["template"]["metadata"]["labels"]


def all_containers():
    spec = pod_spec()
    return spec.get("initContainers", []) + spec["containers"]


def server_container():
    containers = pod_spec()["containers"]
    assert len(containers) == 1, "one server container per pod"
    return containers[0]


def selects_pods(match_labels):
    """A label selector's matchLabels that select the workload's pods (and is not empty)."""
    return bool(match_labels) and all(pod_labels().get(k) == v for k, v in match_labels.items())


def container_port(port):
    """A port given by number or by name in the server container, as a number."""
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in server_container().get("ports", []) if "name" in p}
    assert port in named, f"port name {port!r} is not a port of the server container"
    return named[port]


def walk(node, path=""):
    """Every (path, key, value) of a parsed YAML tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}[{i}]")


@functools.lru_cache(maxsize=None)
def aegis_config():
    config_map = only("ConfigMap")
    return config_map, tomllib.loads(config_map["data"]["aegis.toml"])


# --- kustomization ------------------------------------------------------------------------


def test_kustomization_lists_every_manifest_and_every_listed_file_exists():
    listed = kustomization().get("resources", [])
    assert listed, "kustomization.yaml lists no resources"
    missing = [r for r in listed if not (K8S / r).is_file()]
    assert not missing, f"kustomization.yaml lists files that do not exist: {missing}"
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert on_disk - set(listed) == set(), f"manifests not in kustomization.yaml: {sorted(on_disk - set(listed))}"


def test_no_secret_is_shipped():
    """Secrets are referenced by name and created by the operator (docs/scale-out.md)."""
    assert not objects("Secret"), "a Secret manifest with values is in deploy/kubernetes"
    for path, key, value in walk([doc for _, doc in manifests()]):
        if key == "env":
            for var in value:
                if re.search(r"PASSWORD|PASSPHRASE|TOKEN|SECRET|KEY", var["name"]):
                    assert "value" not in var, f"{path}: {var['name']} has a literal value"


# --- the workload -------------------------------------------------------------------------


def test_three_replicas():
    assert workload()["spec"]["replicas"] == 3


def test_selector_matches_the_pod_template():
    assert selects_pods(workload()["spec"]["selector"]["matchLabels"])


def test_probes_use_the_v2_health_endpoints_over_https():
    container = server_container()
    expected = {"startupProbe": "/v2/health/live", "livenessProbe": "/v2/health/live",
                "readinessProbe": "/v2/health/ready"}
    for probe, path in expected.items():
        assert probe in container, f"no {probe}"
        get = container[probe]["httpGet"]
        assert get["path"] == path, f"{probe} path {get['path']}"
        assert get.get("scheme") == "HTTPS", f"{probe} is not HTTPS: the server speaks nothing else"
        assert container_port(get["port"]) == DATA_PLANE_PORT, f"{probe} is not on the data plane"


def test_pod_security_context():
    context = pod_spec()["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] == USER_ID and context["runAsGroup"] == USER_ID and context["fsGroup"] == USER_ID
    assert context["seccompProfile"]["type"] == "RuntimeDefault"
    # The default (Always) makes the volume's files group-readable at every mount, and the
    # server refuses a group-readable KEK (docs/scale-out.md).
    assert context["fsGroupChangePolicy"] == "OnRootMismatch"


def test_every_container_is_locked_down():
    for container in all_containers():
        name = container["name"]
        context = container.get("securityContext", {})
        assert context.get("readOnlyRootFilesystem") is True, f"{name}: root file system writable"
        assert context.get("allowPrivilegeEscalation") is False, f"{name}: privilege escalation allowed"
        assert "ALL" in context.get("capabilities", {}).get("drop", []), f"{name}: capabilities not dropped"
        assert not context.get("capabilities", {}).get("add"), f"{name}: adds capabilities"
        assert context.get("privileged") is not True, f"{name}: privileged"
        assert context.get("runAsNonRoot", True) is True and context.get("runAsUser", USER_ID) != 0, name
        assert context.get("seccompProfile", {}).get("type", "RuntimeDefault") != "Unconfined", name


def test_nothing_privileged_or_on_the_host_anywhere():
    for file, doc in manifests():
        for path, key, value in walk(doc):
            where = f"{file}{path}.{key}"
            assert not (key in ("privileged", "hostNetwork", "hostPID", "hostIPC") and value is True), where
            assert key not in ("hostPath", "hostPort"), where
            assert not (key == "type" and value == "Unconfined"), where


def test_every_container_has_requests_and_limits():
    for container in all_containers():
        resources = container.get("resources", {})
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                assert resource in resources.get(kind, {}), f"{container['name']}: no {kind}.{resource}"


def test_only_the_data_plane_is_a_container_port():
    ports = {p["containerPort"] for c in all_containers() for p in c.get("ports", [])}
    assert ports == {DATA_PLANE_PORT}


def test_db_password_comes_from_a_secret():
    env = {var["name"]: var for var in server_container().get("env", [])}
    assert "AEGIS_DB_PASSWORD" in env, "the server gets no AEGIS_DB_PASSWORD"
    ref = env["AEGIS_DB_PASSWORD"].get("valueFrom", {}).get("secretKeyRef", {})
    assert ref.get("name") and ref.get("key"), "AEGIS_DB_PASSWORD is not from a secretKeyRef"


def test_data_folder_is_a_volume_of_its_own_per_replica():
    mounts = {m["name"]: m["mountPath"] for m in server_container()["volumeMounts"]}
    claims = {t["metadata"]["name"] for t in workload()["spec"].get("volumeClaimTemplates", [])}
    assert "data" in claims and "data" in mounts, "no volume claim template mounted as the data folder"
    args = server_container()["args"]
    data_dir = args[args.index("--data-dir") + 1]
    # One level below the mount: `aegis init` renames its staging folder onto DIR.
    assert pathlib.PurePosixPath(data_dir).parent == pathlib.PurePosixPath(mounts["data"]), (data_dir, mounts)
    retention = workload()["spec"]["persistentVolumeClaimRetentionPolicy"]
    assert retention == {"whenDeleted": "Retain", "whenScaled": "Retain"}, "audit logs must outlive scaling"


def test_kek_secret_reaches_only_the_init_container():
    kek_volumes = {v["name"] for v in pod_spec()["volumes"]
                   if v.get("secret", {}).get("secretName") == "aegis-kek"}
    assert kek_volumes, "the KEK Secret is not mounted for the init container"
    for container in all_containers():
        mounted = {m["name"] for m in container.get("volumeMounts", [])}
        if container in pod_spec()["containers"]:
            assert not mounted & kek_volumes, f"{container['name']} mounts the KEK Secret"
        else:
            assert mounted & kek_volumes, f"{container['name']} cannot read the KEK it installs"


def test_referenced_secrets_are_documented():
    names = set()
    for path, key, value in walk(pod_spec()):
        if key == "secretKeyRef":
            names.add(value["name"])
        if key == "secret":
            names.add(value["secretName"])
    doc = SCALE_OUT_DOC.read_text()
    assert {"aegis-kek", "aegis-tls"} <= names
    undocumented = sorted(n for n in names if n not in doc)
    assert not undocumented, f"secrets the pods need that docs/scale-out.md does not explain: {undocumented}"


# --- Services, disruption budget, network policy, autoscaler ---------------------------------


def test_services_expose_only_the_data_plane():
    services = [s for s in objects("Service") if selects_pods(s["spec"].get("selector", {}))]
    assert services, "no Service selects the replicas"
    for service in services:
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", service["metadata"]["name"]
        for port in service["spec"]["ports"]:
            target = container_port(port.get("targetPort", port["port"]))
            assert target == DATA_PLANE_PORT, f"{service['metadata']['name']} exposes {target}"


def test_disruption_budget_covers_the_replicas():
    budget = only("PodDisruptionBudget")
    assert budget["apiVersion"] == "policy/v1"
    assert selects_pods(budget["spec"]["selector"]["matchLabels"])
    spec = budget["spec"]
    assert spec.get("maxUnavailable") == 1 or spec.get("minAvailable", 0) >= 2, spec


def test_network_policy_admits_only_the_data_plane():
    policy = only("NetworkPolicy")
    assert selects_pods(policy["spec"]["podSelector"]["matchLabels"])
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    ingress = policy["spec"]["ingress"]
    assert ingress, "no ingress rule: the ingress controller could not reach the data plane"
    for rule in ingress:
        assert rule.get("from"), "an ingress rule open to every source"
        ports = {container_port(p["port"]) for p in rule.get("ports", [])}
        assert ports == {DATA_PLANE_PORT}, f"ingress to {ports}"
    assert CONTROL_PLANE_PORT not in {p["port"] for r in ingress for p in r.get("ports", [])}


def test_network_policy_egress_is_postgresql_and_dns_only():
    egress = only("NetworkPolicy")["spec"]["egress"]
    ports = set()
    for rule in egress:
        assert rule.get("to"), "an egress rule open to every destination"
        assert rule.get("ports"), "an egress rule open on every port"
        ports |= {p["port"] for p in rule["ports"]}
    assert ports == {5432, 53}


def test_autoscaler_targets_the_workload():
    hpa = only("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        workload()["apiVersion"], workload()["kind"], workload()["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] >= 3
    assert any(m["type"] == "Resource" and m["resource"]["name"] == "cpu" for m in hpa["spec"]["metrics"])


# --- configuration and PostgreSQL ---------------------------------------------------------


def store_url():
    _, config = aegis_config()
    return urllib.parse.urlsplit(config["store"]["url"])


def test_store_url_verifies_the_server_and_holds_no_password():
    url = store_url()
    query = urllib.parse.parse_qs(url.query)
    assert url.scheme in ("postgresql", "postgres")
    assert query.get("sslmode") == ["verify-full"]
    assert url.password is None and "password" not in query, "a password in the store URL"
    root = query["sslrootcert"][0]
    mounts = [m["mountPath"] for m in server_container()["volumeMounts"]]
    assert any(root.startswith(m.rstrip("/") + "/") for m in mounts), f"sslrootcert {root} is not mounted"


def test_init_container_uses_the_same_store_url():
    config_map, config = aegis_config()
    assert config_map["data"]["store-url"] == config["store"]["url"]


def test_config_keeps_the_control_plane_on_loopback():
    _, config = aegis_config()
    assert config["server"]["admin_listen"].rsplit(":", 1) == ["127.0.0.1", str(CONTROL_PLANE_PORT)]
    assert config["server"]["listen"].rsplit(":", 1)[1] == str(DATA_PLANE_PORT)
    assert config["runtime"].get("isolation", "process") == "process"


def test_postgresql_cluster_has_three_tls_only_instances():
    cluster = only("Cluster")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    spec = cluster["spec"]
    assert spec["instances"] == 3
    hba = spec["postgresql"]["pg_hba"]
    assert hba[0].split() == ["hostnossl", "all", "all", "all", "reject"], "plain-text connections not refused"
    assert not [line for line in hba if line.split()[0] == "host"], "a pg_hba line allows connections without TLS"
    url = store_url()
    assert url.hostname == f"{cluster['metadata']['name']}-rw", "the store URL is not the cluster's rw Service"
    assert (url.username, url.path.lstrip("/")) == (spec["bootstrap"]["initdb"]["owner"],
                                                   spec["bootstrap"]["initdb"]["database"])
    egress_selectors = [t.get("podSelector", {}).get("matchLabels", {})
                        for r in only("NetworkPolicy")["spec"]["egress"] for t in r["to"]]
    assert {"cnpg.io/cluster": cluster["metadata"]["name"]} in egress_selectors


# --- Containerfile -------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def stages():
    """The Containerfile as [(from line, [(INSTRUCTION, arguments)])], continuations joined and
    comment lines dropped (as the builders do)."""
    lines, pending = [], ""
    for raw in CONTAINERFILE.read_text().splitlines():
        if raw.strip().startswith("#"):
            continue
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        line = (pending + raw).strip()
        pending = ""
        if line:
            lines.append(line)
    result = []
    for line in lines:
        instruction, _, args = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            result.append((args.strip(), []))
        else:
            assert result, f"{instruction} before the first FROM"
            result[-1][1].append((instruction, args.strip()))
    return tuple(result)


def final_stage():
    return stages()[-1]


def apt_packages(instructions):
    packages = []
    for instruction, args in instructions:
        if instruction != "RUN":
            continue
        for segment in re.findall(r"apt-get\s+install\s+(.*?)(?:&&|;|\|\||$)", args):
            assert "--no-install-recommends" in segment, f"apt-get install without --no-install-recommends: {segment}"
            packages += [t for t in segment.split() if not t.startswith("-")]
    return packages


def test_containerfile_is_multi_stage_on_debian_12():
    images = [line.split()[0] for line, _ in stages()]
    assert len(images) >= 2, "not a multi-stage build"
    debian = re.compile(r"^(docker\.io/library/)?debian:12(-slim)?(@sha256:[0-9a-f]{64})?$")
    assert debian.match(images[-1]), f"final stage is {images[-1]}"
    assert any(debian.match(i) for i in images[:-1]), "no Debian 12 build stage"


def test_final_stage_runs_as_a_numeric_non_root_user():
    users = [args for instruction, args in final_stage()[1] if instruction == "USER"]
    assert users, "the final stage sets no USER: it would run as root"
    match = re.fullmatch(r"(\d+)(?::(\d+))?", users[-1])
    assert match, f"USER {users[-1]} is not numeric (runAsNonRoot cannot check a name)"
    assert int(match.group(1)) != 0 and int(match.group(2) or 1) != 0
    assert int(match.group(1)) == pod_spec()["securityContext"]["runAsUser"]


def test_final_stage_has_runtime_libraries_and_no_build_tools():
    packages = apt_packages(final_stage()[1])
    build_tools = re.compile(r"^(gcc|g\+\+|cpp|clang|cmake|ninja|make|build-essential|pkg-config|git|npm)(-.*)?$"
                             r"|-dev$")
    assert not [p for p in packages if build_tools.search(p)], f"build tools in the final stage: {packages}"
    assert {"libssl3", "libsqlite3-0", "libpq5", "libseccomp2", "libtorch1.13"} <= set(packages), packages
    build_packages = apt_packages([i for _, instructions in stages()[:-1] for i in instructions])
    assert "libpq-dev" in build_packages and "cmake" in build_packages


def test_final_stage_keeps_the_data_folder_on_a_volume():
    volumes = []
    for instruction, args in final_stage()[1]:
        if instruction == "VOLUME":
            volumes += re.findall(r"[\w/.-]+", args)
    assert volumes, "no VOLUME: the data folder would be in the container's layer"
    cmd = [args for instruction, args in final_stage()[1] if instruction == "CMD"][-1]
    data_dir = re.search(r'"--data-dir",\s*"([^"]+)"', cmd).group(1)
    assert any(pathlib.PurePosixPath(data_dir).parent == pathlib.PurePosixPath(v) for v in volumes), (
        data_dir, volumes)


def test_final_stage_entrypoint_and_ports():
    instructions = final_stage()[1]
    entrypoint = [args for instruction, args in instructions if instruction == "ENTRYPOINT"]
    assert entrypoint and re.fullmatch(r'\["/usr/bin/aegis"\]', entrypoint[-1]), entrypoint
    exposed = {int(p.split("/")[0]) for instruction, args in instructions if instruction == "EXPOSE"
               for p in args.split()}
    assert DATA_PLANE_PORT in exposed and CONTROL_PLANE_PORT not in exposed, exposed


def test_modules_are_installed_where_the_build_compiled_them_in():
    """The TorchScript module and the ONNX Runtime package are found only at the paths given
    to cmake; the loader wants the module root-owned and not writable by others."""
    cmake = " ".join(args for _, instructions in stages()[:-1] for i, args in instructions if "cmake" in args)
    module = re.search(r"-DAEGIS_TORCHSCRIPT_MODULE=(\S+)", cmake).group(1)
    onnxruntime = re.search(r"-DAEGIS_ONNXRUNTIME_DIR=(\S+)", cmake).group(1)
    copies = {args.split()[-1]: args for instruction, args in final_stage()[1] if instruction == "COPY"}
    assert module in copies, f"{module} is not installed in the final stage"
    assert "--chown=0:0" in copies[module] and "--chmod=0644" in copies[module], copies[module]
    assert onnxruntime in copies and "--chown=0:0" in copies[onnxruntime], f"{onnxruntime} not installed"
    _, config = aegis_config()
    assert config["runtime"]["onnxruntime_dir"] == onnxruntime


def test_containerfile_bakes_in_no_secret_and_runs_no_downloaded_script():
    text = "\n".join(f"{i} {a}" for _, instructions in stages() for i, a in instructions)
    for instruction, args in (x for _, instructions in stages() for x in instructions):
        if instruction in ("ARG", "ENV"):
            assert not re.search(r"PASSWORD|PASSPHRASE|TOKEN|SECRET|KEK|_KEY", args, re.I), f"{instruction} {args}"
        assert not (instruction == "ADD" and re.search(r"https?://", args)), f"ADD {args}"
    assert not re.search(r"(curl|wget)[^|;&]*\|\s*(ba|da)?sh", text), "a downloaded script is piped to a shell"
