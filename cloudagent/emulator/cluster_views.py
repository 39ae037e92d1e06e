"""A cluster's hosts, host components, services and components, with task-model states."""

from __future__ import annotations

from typing import Any

from cloudagent.ambari.blueprint import Rejection
from cloudagent.emulator import operations as ops
from cloudagent.emulator.model import Ambari, Cluster
from cloudagent.emulator.query import Resource
from cloudagent.emulator.views import API, HOST_KEYS, Listing

HOST_COMPONENT_KEYS = ("HostRoles/cluster_name", "HostRoles/component_name", "HostRoles/host_name")
SERVICE_KEYS = ("ServiceInfo/cluster_name", "ServiceInfo/service_name")
COMPONENT_KEYS = (
    "ServiceComponentInfo/cluster_name",
    "ServiceComponentInfo/component_name",
    "ServiceComponentInfo/service_name",
)


def _root(base: str, cluster: str) -> str:
    return f"{base}{API}/clusters/{cluster}"


def _hc_ref(base: str, cluster: str, host: str, component: str) -> dict[str, Any]:
    return {
        "href": f"{_root(base, cluster)}/hosts/{host}/host_components/{component}",
        "HostRoles": {"cluster_name": cluster, "component_name": component, "host_name": host},
    }


def _host_in(ambari: Ambari, c: Cluster, host: str) -> str:
    name = host.lower()
    if name not in c.layout:
        raise Rejection(
            404,
            "The requested resource doesn't exist: Host not found, "
            f"cluster={c.name}, hostname={host}",
        )
    return name


def cluster_host(ambari: Ambari, base: str, cluster: str, host: str) -> Resource:
    with ambari.lock:
        c = ambari.cluster(cluster)
        name = _host_in(ambari, c, host)
        registered = ambari.hosts.get(name)
        facts = ambari.host_facts(registered) if registered else {"host_name": name}
        facts["cluster_name"] = cluster
        return Resource(
            "Host",
            {
                "href": f"{_root(base, cluster)}/hosts/{name}",
                "Hosts": facts,
                "host_components": [_hc_ref(base, cluster, name, comp) for comp in c.layout[name]],
            },
            HOST_KEYS,
        )


def cluster_hosts(ambari: Ambari, base: str, cluster: str) -> Listing:
    with ambari.lock:
        c = ambari.cluster(cluster)
        items = [cluster_host(ambari, base, cluster, h) for h in sorted(c.layout)]
    return Listing(f"{_root(base, cluster)}/hosts", items, "Host", HOST_KEYS)


def host_component(ambari: Ambari, base: str, cluster: str, host: str, component: str) -> Resource:
    with ambari.lock:
        c = ambari.cluster(cluster)
        name = _host_in(ambari, c, host)
        if component not in c.layout[name]:
            raise Rejection(
                404,
                "The requested resource doesn't exist: ServiceComponentHost not found, "
                f"clusterName={cluster}, hostName={name}, componentName={component}",
            )
        service = c.layout[name][component]
        stack = (
            ambari.blueprints[c.blueprint][0].stack.id if c.blueprint in ambari.blueprints else ""
        )
        ref = _hc_ref(base, cluster, name, component)
        ref["HostRoles"].update(
            desired_stack_id=stack,
            desired_state=ops.desired_state(ambari, c, name, component),
            maintenance_state="OFF",
            service_name=service,
            stack_id=stack,
            stale_configs=False,
            state=ops.component_state(ambari, c, name, component),
        )
        ref["host"] = {"href": f"{_root(base, cluster)}/hosts/{name}"}
        ref["component"] = {
            "href": f"{_root(base, cluster)}/services/{service}/components/{component}",
            "ServiceComponentInfo": {
                "cluster_name": cluster,
                "component_name": component,
                "service_name": service,
            },
        }
        return Resource("HostComponent", ref, HOST_COMPONENT_KEYS)


def host_components(ambari: Ambari, base: str, cluster: str, host: str | None = None) -> Listing:
    """A host's components, or (``host`` None) every host component of the cluster."""
    with ambari.lock:
        c = ambari.cluster(cluster)
        hosts = [_host_in(ambari, c, host)] if host is not None else sorted(c.layout)
        items = [
            host_component(ambari, base, cluster, h, comp) for h in hosts for comp in c.layout[h]
        ]
    href = (
        f"{_root(base, cluster)}/hosts/{host}/host_components"
        if host
        else (f"{_root(base, cluster)}/host_components")
    )
    return Listing(href, items, "HostComponent", HOST_COMPONENT_KEYS)


def _services(c: Cluster) -> dict[str, dict[str, list[str]]]:
    """service -> component -> hosts, in layout order."""
    found: dict[str, dict[str, list[str]]] = {}
    for host, components in c.layout.items():
        for component, service in components.items():
            found.setdefault(service, {}).setdefault(component, []).append(host)
    return found


def _service_or_404(c: Cluster, service: str) -> dict[str, list[str]]:
    found = _services(c).get(service)
    if found is None:
        raise Rejection(
            404,
            "The requested resource doesn't exist: Service not found, "
            f"clusterName={c.name}, serviceName={service}",
        )
    return found


def service(ambari: Ambari, base: str, cluster: str, name: str) -> Resource:
    with ambari.lock:
        c = ambari.cluster(cluster)
        components = _service_or_404(c, name)
        states = [
            ops.component_state(ambari, c, h, comp)
            for comp, hosts in components.items()
            if not ops.is_client(ambari, c, comp)
            for h in hosts
        ] or [
            ops.component_state(ambari, c, h, comp) for comp, hs in components.items() for h in hs
        ]
        href = f"{_root(base, cluster)}/services/{name}"
        return Resource(
            "Service",
            {
                "href": href,
                "ServiceInfo": {
                    "cluster_name": cluster,
                    "maintenance_state": "OFF",
                    "service_name": name,
                    "state": ops.aggregate(states),
                },
                "components": [
                    {
                        "href": f"{href}/components/{comp}",
                        "ServiceComponentInfo": {
                            "cluster_name": cluster,
                            "component_name": comp,
                            "service_name": name,
                        },
                    }
                    for comp in components
                ],
            },
            SERVICE_KEYS,
        )


def services(ambari: Ambari, base: str, cluster: str) -> Listing:
    with ambari.lock:
        c = ambari.cluster(cluster)
        items = [service(ambari, base, cluster, s) for s in _services(c)]
    return Listing(f"{_root(base, cluster)}/services", items, "Service", SERVICE_KEYS)


def component(ambari: Ambari, base: str, cluster: str, svc: str, name: str) -> Resource:
    with ambari.lock:
        c = ambari.cluster(cluster)
        hosts = _service_or_404(c, svc).get(name)
        if hosts is None:
            raise Rejection(
                404,
                "The requested resource doesn't exist: ServiceComponent not found, "
                f"clusterName={cluster}, serviceName={svc}, serviceComponentName={name}",
            )
        states = [ops.component_state(ambari, c, h, name) for h in hosts]
        bp = ambari.blueprints.get(c.blueprint)
        entry = bp[0].stack.components.get(name) if bp else None
        return Resource(
            "Component",
            {
                "href": f"{_root(base, cluster)}/services/{svc}/components/{name}",
                "ServiceComponentInfo": {
                    "category": entry.category if entry else None,
                    "cluster_name": cluster,
                    "component_name": name,
                    "installed_count": sum(1 for s in states if s == "INSTALLED"),
                    "service_name": svc,
                    "started_count": sum(1 for s in states if s == "STARTED"),
                    "state": ops.aggregate(states),
                    "total_count": len(states),
                },
                "host_components": [_hc_ref(base, cluster, h, name) for h in hosts],
            },
            COMPONENT_KEYS,
        )


def components(ambari: Ambari, base: str, cluster: str, svc: str | None = None) -> Listing:
    """A service's components, or (``svc`` None) every component of the cluster."""
    with ambari.lock:
        c = ambari.cluster(cluster)
        table = _services(c)
        if svc is not None:
            _service_or_404(c, svc)
        items = [
            component(ambari, base, cluster, s, comp)
            for s, comps in table.items()
            if svc is None or s == svc
            for comp in comps
        ]
    href = (
        f"{_root(base, cluster)}/services/{svc}/components"
        if svc
        else (f"{_root(base, cluster)}/components")
    )
    return Listing(href, items, "Component", COMPONENT_KEYS)


def stack_version(ambari: Ambari, base: str, cluster: str) -> Resource:
    with ambari.lock:
        c = ambari.cluster(cluster)
        entry = ambari.blueprints.get(c.blueprint)
        stack = entry[0].stack if entry else None
        return Resource(
            "ClusterStackVersion",
            {
                "href": f"{_root(base, cluster)}/stack_versions/1",
                "ClusterStackVersions": {
                    "cluster_name": cluster,
                    "id": 1,
                    "repository_version": 1,
                    "stack": stack.name if stack else None,
                    "state": "CURRENT",
                    "version": stack.version if stack else None,
                },
            },
            ("ClusterStackVersions/cluster_name", "ClusterStackVersions/id"),
        )
