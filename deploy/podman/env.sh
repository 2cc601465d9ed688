# podman as it works on this kind of machine (a container without systemd): vfs storage in the
# target directory, runc, no default ulimits, cgroupfs, events to a file. Sourced by
# deploy/image.sh and e2e/image.sh.
podman_home="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/podman"
mkdir -p "$podman_home"
cat >"$podman_home/containers.conf" <<CONF
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
cat >"$podman_home/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$podman_home/storage"
runroot = "$podman_home/run"
CONF
export CONTAINERS_CONF="$podman_home/containers.conf" CONTAINERS_STORAGE_CONF="$podman_home/storage.conf"
