#!/usr/bin/env python3
"""Build cloudagent's bundled Ambari stack tables from exported stack definitions.

Input: a directory of JSON exports of Ambari's stack definitions, one file per Ambari branch
(component cardinality, category, auto-deploy and dependencies per stack version), named as in
SOURCES below. Output: one compact JSON per
Ambari version in cloudagent/ambari/stackdata/, shipped inside the package so that offline
validation needs nothing else at run time. Run it again when the exports change:

    python3 scripts/build_stacks.py DIRECTORY
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# Ambari version -> reference file (the branch whose stack definitions that version ships).
SOURCES = {
    "1.7": "ambari-branch-1.7.0_HDP.json",
    "2.1": "ambari-branch-2.1_HDP.json",
    "2.4": "ambari-branch-2.4_HDP.json",
    "2.6": "ambari-branch-2.6_HDP.json",
    "2.7": "ambari-branch-2.7_HDP.json",
    "3.0": ["ambari-3.0_BIGTOP-3.2.0.json", "ambari-3.0_BIGTOP-3.3.0.json"],
}

# Properties with require-input="true" and type PASSWORD in the HDP stack definitions
# (ambari-server/src/main/resources/common-services/<SERVICE>/<version>/configuration/*.xml);
# the BIGTOP files carry their own list.
HDP_REQUIRED_PASSWORDS = {
    "HIVE": [["hive-site", "javax.jdo.option.ConnectionPassword"]],
    "OOZIE": [["oozie-site", "oozie.service.JPAService.jdbc.password"]],
    "AMBARI_METRICS": [["ams-grafana-env", "metrics_grafana_password"]],
    "KNOX": [["knox-env", "knox_master_secret"]],
    "RANGER": [
        ["admin-properties", "db_root_password"],
        ["admin-properties", "db_password"],
        ["admin-properties", "audit_db_password"],
    ],
    "ACCUMULO": [["accumulo-env", "accumulo_root_password"], ["accumulo-env", "instance_secret"]],
    "LOGSEARCH": [["logsearch-admin-json", "logsearch_admin_password"]],
    "SUPERSET": [["superset-env", "superset_admin_password"]],
    "HAWQ": [["hawq-env", "hawq_password"]],
}


def truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def condense(stack_name: str, services: dict[str, Any]) -> dict[str, Any]:
    components: dict[str, Any] = {}
    passwords: dict[str, list[list[str]]] = {}
    for service_name, service in sorted(services.items()):
        if service.get("deleted"):
            continue
        for name, comp in sorted(service.get("components", {}).items()):
            if comp.get("deleted"):
                continue
            entry: dict[str, Any] = {
                "service": service_name,
                "category": comp.get("category"),
                "cardinality": comp.get("cardinality"),
            }
            if truthy(comp.get("auto_deploy")):
                entry["auto_deploy"] = True
                if comp.get("co_locate"):
                    entry["co_locate"] = comp["co_locate"].split("/")[-1]
            deps = []
            for dep in comp.get("dependencies", []):
                dep_service, _, dep_name = dep["name"].partition("/")
                d: dict[str, Any] = {"name": dep_name, "service": dep_service, "scope": dep["scope"]}
                if truthy(dep.get("auto_deploy")):
                    d["auto_deploy"] = True
                if dep.get("co_locate"):
                    d["co_locate"] = dep["co_locate"].split("/")[-1]
                if dep.get("conditional"):
                    d["conditional"] = True
                deps.append(d)
            if deps:
                entry["dependencies"] = deps
            components[name] = entry
        if "password_properties" in service:
            required = [[p["config_type"], p["name"]]
                        for p in service["password_properties"] if p.get("require_input")]
        else:
            required = HDP_REQUIRED_PASSWORDS.get(service_name, []) if stack_name == "HDP" else []
        if required:
            passwords[service_name] = required
    return {"components": components, "required_passwords": passwords}


def main(source_dir: str) -> int:
    out_dir = Path(__file__).resolve().parent.parent / "cloudagent" / "ambari" / "stackdata"
    out_dir.mkdir(parents=True, exist_ok=True)
    for ambari, files in SOURCES.items():
        stacks: dict[str, Any] = {}
        for file in [files] if isinstance(files, str) else files:
            data = json.loads((Path(source_dir) / file).read_text())
            stack_name = "BIGTOP" if "BIGTOP" in file else "HDP"
            for version, services in data.items():
                stacks[f"{stack_name}-{version}"] = condense(stack_name, services)
        doc = {"ambari": ambari, "source": files, "stacks": stacks}
        target = out_dir / f"ambari-{ambari}.json"
        target.write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n")
        print(f"{target.name}: {', '.join(stacks)}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: build_stacks.py DIRECTORY (the stack definition exports)")
    sys.exit(main(sys.argv[1]))
