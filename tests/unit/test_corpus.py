"""Agreement with the verdicts Ambari gives a corpus of real-world blueprints and templates.

The corpus is external data (public blueprints with the verdict Ambari gives each), used as it
is from the directory named by ``CLOUDAGENT_CORPUS_DIR``; CI points it at its copy. Without the
setting these tests are reported as not run, with that reason: a lone clone still passes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cloudagent.ambari.blueprint import unwrap_cloudbreak
from cloudagent.ambari.validate import check_blueprint

CORPUS_SETTING = "CLOUDAGENT_CORPUS_DIR"
CORPUS = Path(os.environ.get(CORPUS_SETTING) or "/nonexistent") / "blueprints"
pytestmark = pytest.mark.skipif(
    not os.environ.get(CORPUS_SETTING),
    reason=f"external corpus not given: set {CORPUS_SETTING} to the corpus directory",
)
NOT_VALID = "is not valid for the specified stack"

# file stem -> (status, a part of the message) for Ambari 2.6; None = accepted (201).
EXPECTED_26: dict[str, tuple[int, str] | None] = {
    "apache__ambari__multinode-default": None,
    "apache__ambari__single-node-HDP-2.1-blueprint1": None,
    "hortonworks__ambari-rest-client__hdp-multinode-default": (400, f"'NAGIOS_SERVER' in host group 'gateway' {NOT_VALID}"),
    "hortonworks__ambari-rest-client__multi-node-hdfs-yarn": (400, f"'NAGIOS_SERVER' in host group 'master' {NOT_VALID}"),
    "hortonworks__ambari-rest-client__blueprint": None,
    "uprush__ambari-blueprint-examples__ha-cluster": (500, "Server Error"),
    "uprush__ambari-blueprint-examples__small-cluster": None,
    "uprush__ambari-blueprint-examples__sandbox": None,
    "amarmesic__ambari-hdp-docker__blueprint": (400, f"'HST_AGENT' in host group 'host_group_2' {NOT_VALID}"),
    "tzolov__vagrant-pivotalhd__phd-hdfs-hawq-blueprint": (400, "The requested stack doesn't exist. Name='PHD' Version='3.0'"),
    "tzolov__vagrant-pivotalhd__hdp23-hdfs-yarn-zk-es-blueprint": (400, f"'ELASTICSEARCH_YARN_MASTER' in host group 'management_masters' {NOT_VALID}"),
    "monolive__hadoop-lab__multi-node-hdfs-yarn": (400, f"'NAGIOS_SERVER' in host group 'master' {NOT_VALID}"),
    "monolive__hadoop-lab__hdp-2.3-hbase-noha": None,
    "KaveIO__AmbariKave__default.blueprint": (400, "Name='HDP' Version='2.6.3.5.KAVE'"),
    "KaveIO__AmbariKave__examplehadoop.blueprint": (400, f"'KAVETOOLBOXGATE' in host group 'gateway' {NOT_VALID}"),
    "wardviaene__hadoop-ops-course__blueprint": None,
    "alextr3m__ambari-hdp__blueprint-multinode": None,
    "alextr3m__ambari-hdp__blueprint-singlenode": None,
    "risdenk__solr-stack-1__blueprint": (400, f"'SOLR_SERVER' in host group 'host_group_1' {NOT_VALID}"),
    "hortonworks__cloudbreak__hdp26-data-science-spark2.bp": (400, "are not supported for the resource type Blueprint"),
    "hortonworks__cloudbreak__hdp26-shared-services-ha.bp": (400, "are not supported for the resource type Blueprint"),
    "hortonworks__cloudbreak__hdp-small-default.bp": (400, "are not supported for the resource type Blueprint"),
}  # fmt: skip

# Cloudbreak's wrappers: the verdict on the inner "blueprint" object.
EXPECTED_INNER = {
    "hortonworks__cloudbreak__hdp26-data-science-spark2.bp": None,
    "hortonworks__cloudbreak__hdp26-shared-services-ha.bp": (
        400,
        "Cluster Topology validation failed.  Invalid service component count: "
        "[HIVE_SERVER(actual=0, required=1+), WEBHCAT_SERVER(actual=0, required=1+)].  To disable "
        "topology validation and create the blueprint, add the following to the end of the url: "
        "'?validate_topology=false'",
    ),
    "hortonworks__cloudbreak__hdp-small-default.bp": None,
}

# Where Ambari 1.7 (HDP 2.1 era, NAGIOS still defined) answers differently.
EXPECTED_17 = {
    "hortonworks__ambari-rest-client__hdp-multinode-default": (400, "GANGLIA_SERVER(actual=2, required=1)"),
    "hortonworks__ambari-rest-client__multi-node-hdfs-yarn": None,
    "monolive__hadoop-lab__multi-node-hdfs-yarn": None,
    "hortonworks__ambari-rest-client__blueprint": None,
}  # fmt: skip


def load(stem: str) -> object:
    return json.loads((CORPUS / f"{stem}.json").read_text())


def check(verdict_status: int, verdict_message: str, expected: tuple[int, str] | None) -> None:
    if expected is None:
        assert verdict_status == 201, verdict_message
    else:
        assert verdict_status == expected[0], verdict_message
        assert expected[1] in verdict_message


def test_the_whole_corpus_is_covered() -> None:
    assert CORPUS.is_dir(), f"corpus not found at {CORPUS}"
    stems = {p.name.removesuffix(".json") for p in CORPUS.glob("*.json")}
    assert stems == set(EXPECTED_26)
    assert len(stems) == 22


@pytest.mark.parametrize("stem", sorted(EXPECTED_26))
def test_ambari_26_verdict(stem: str) -> None:
    verdict = check_blueprint(load(stem), url_name=stem)
    check(verdict.status, verdict.message, EXPECTED_26[stem])


@pytest.mark.parametrize("stem", sorted(EXPECTED_INNER))
def test_cloudbreak_inner_blueprint_verdict(stem: str) -> None:
    inner = unwrap_cloudbreak(load(stem))
    assert inner is not None
    verdict = check_blueprint(inner, url_name=stem)
    check(verdict.status, verdict.message, EXPECTED_INNER[stem])
    if verdict.status == 400:  # Cloudbreak posted this one with validate_topology=false
        assert check_blueprint(inner, url_name=stem, validate_topology_=False).accepted


@pytest.mark.parametrize("stem", sorted(EXPECTED_17))
def test_ambari_17_verdict(stem: str) -> None:
    verdict = check_blueprint(load(stem), url_name=stem, ambari="1.7")
    check(verdict.status, verdict.message, EXPECTED_17[stem])


def test_accepted_blueprints_get_auto_deployed_components() -> None:
    verdict = check_blueprint(load("alextr3m__ambari-hdp__blueprint-singlenode"))
    assert verdict.blueprint is not None
    assert verdict.blueprint.stack.id == "HDP-2.5"
