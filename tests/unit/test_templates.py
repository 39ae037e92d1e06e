"""Agreement with the verdicts on the six real cluster templates of the corpus
(CLOUDAGENT_CORPUS_DIR)."""

from __future__ import annotations

import json

import pytest

from cloudagent.ambari.blueprint import Rejection
from cloudagent.emulator.model import Ambari
from tests.unit.test_corpus import CORPUS, pytestmark  # noqa: F401 - the same skip rule

# template -> (blueprint registered first as (name, corpus file) or None, expected status, text)
CASES = {
    "amarmesic__ambari-hdp-docker__hosts": (None, 400, "No blueprint exists with the name 'jarvis'"),
    "wardviaene__hadoop-ops-course__template": (("3-node-cluster", "wardviaene__hadoop-ops-course__blueprint"), 202, ""),
    "alextr3m__ambari-hdp__cluster-multinode": (("blueprint", "alextr3m__ambari-hdp__blueprint-multinode"), 202, ""),
    "apache__ambari__single-node-hostmapping1": (("single-node-blueprint1", "apache__ambari__single-node-HDP-2.1-blueprint1"), 202, ""),
    "hortonworks__ambari-rest-client__cluster_template": (("test-bp", "alextr3m__ambari-hdp__blueprint-singlenode"), 400, "'host_groups' element must be included in cluster create body"),
    "hortonworks__ambari-rest-client__cluster": (("c1", "alextr3m__ambari-hdp__blueprint-singlenode"), 400, "The properties [host-groups] specified in the request or predicate are not supported for the resource type Cluster."),
}  # fmt: skip


def test_all_six_templates_are_covered() -> None:
    found = {p.name.removesuffix(".json") for p in (CORPUS / "cluster_templates").glob("*.json")}
    assert found == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_template_verdict(name: str) -> None:
    registered, status, text = CASES[name]
    ambari = Ambari()
    if registered is not None:
        bp_name, file = registered
        doc = json.loads((CORPUS / f"{file}.json").read_text())
        doc["Blueprints"].pop("blueprint_name", None)  # registered under the URL name
        ambari.add_blueprint(bp_name, json.dumps(doc), validate_topology=True)
    body = (CORPUS / "cluster_templates" / f"{name}.json").read_text()
    if status == 202:
        request = ambari.create_cluster("c", body)
        assert ambari.summary(request).status == "PENDING"  # its hosts have not registered
        assert request.pending_hosts > 0
    else:
        with pytest.raises(Rejection) as caught:
            ambari.create_cluster("c", body)
        assert caught.value.status == status
        assert text in caught.value.message
