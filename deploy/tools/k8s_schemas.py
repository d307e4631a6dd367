"""Write kubeconform's JSON schemas for the kinds the Helm chart renders, from pinned sources.

kubeconform's default schemas are downloaded from a code host; here they are generated from
Go modules the installer fetches with ``go mod download`` (pinned in ``deploy/tools/install``):

- Kubernetes' own kinds from ``k8s.io/kubernetes``'s ``api/openapi-spec/swagger.json``
  (every ``$ref`` inlined, so each file stands alone);
- KEDA's ``ScaledObject`` and ``TriggerAuthentication`` from ``github.com/kedacore/keda/v2``'s
  ``config/crd/bases``;
- the Prometheus Operator's ``ServiceMonitor`` and ``PrometheusRule`` from
  ``github.com/prometheus-operator/prometheus-operator``'s ``example/prometheus-operator-crd``.

Strict, as kubectl validates: every object schema that lists its properties refuses others
(``additionalProperties: false``), and int-or-string fields take either. Files are named as
kubeconform's ``{{ .ResourceKind }}{{ .KindSuffix }}.json`` template expects, e.g.
``deployment-apps-v1.json``, ``scaledobject-keda-v1alpha1.json``.

    python k8s_schemas.py OUT_DIR KUBERNETES_DIR KEDA_DIR PROMETHEUS_OPERATOR_DIR
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import yaml

# (group, version, kind) of every Kubernetes kind the chart may render; a kind missing here
# fails kubeconform with "could not find schema", which says what to add.
KUBERNETES_KINDS = [
    ("", "v1", "ConfigMap"),
    ("", "v1", "Secret"),
    ("", "v1", "Service"),
    ("", "v1", "ServiceAccount"),
    ("apps", "v1", "Deployment"),
    ("batch", "v1", "Job"),
    ("policy", "v1", "PodDisruptionBudget"),
    ("autoscaling", "v2", "HorizontalPodAutoscaler"),
    ("networking.k8s.io", "v1", "Ingress"),
]
# (module folder, file inside it) of every CRD whose kinds the chart may render.
CRD_FILES = {
    "keda": [
        "config/crd/bases/keda.sh_scaledobjects.yaml",
        "config/crd/bases/keda.sh_triggerauthentications.yaml",
    ],
    "prometheus-operator": [
        "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
        "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
    ],
}
INT_OR_STRING = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
# A resource quantity is written as "250m" or as a bare number (cpu: 1).
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def file_name(group: str, version: str, kind: str) -> str:
    """kubeconform's ResourceKind + KindSuffix: the group's first label, then the version."""
    suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
    return f"{kind.lower()}{suffix}.json"


def strict(node: Any) -> Any:
    """Objects that list their properties refuse unknown ones; int-or-string takes both."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("format") == "int-or-string" or node.get("x-kubernetes-int-or-string"):
        return {k: v for k, v in node.items() if k in ("description",)} | INT_OR_STRING
    result = {key: strict(value) for key, value in node.items()}
    open_ended = "additionalProperties" in result or result.get(
        "x-kubernetes-preserve-unknown-fields"
    )
    if "properties" in result and not open_ended:
        result["additionalProperties"] = False
    return result


def inline(node: Any, definitions: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """Replace every ``#/definitions/X`` reference with X itself (a cycle is an error)."""
    if isinstance(node, list):
        return [inline(item, definitions, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.removeprefix("#/definitions/")
        if name in seen:
            raise ValueError(f"recursive definition {name} cannot stand alone")
        if name == QUANTITY:
            target: dict[str, Any] = {"oneOf": [{"type": "string"}, {"type": "number"}]}
        else:
            target = inline(definitions[name], definitions, (*seen, name))
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return copy.deepcopy(target) | siblings
    return {key: inline(value, definitions, seen) for key, value in node.items()}


def kubernetes_schemas(swagger: Path) -> dict[str, Any]:
    definitions = json.loads(swagger.read_text())["definitions"]
    by_gvk = {
        (gvk["group"], gvk["version"], gvk["kind"]): name
        for name, body in definitions.items()
        for gvk in body.get("x-kubernetes-group-version-kind", [])
    }
    schemas = {}
    for gvk in KUBERNETES_KINDS:
        schema = inline(definitions[by_gvk[gvk]], definitions, (by_gvk[gvk],))
        schema.pop("x-kubernetes-group-version-kind", None)
        schemas[file_name(*gvk)] = strict(schema)
    return schemas


def crd_schemas(crd: Path) -> dict[str, Any]:
    schemas = {}
    for document in yaml.safe_load_all(crd.read_text()):
        if not document or document.get("kind") != "CustomResourceDefinition":
            continue
        spec = document["spec"]
        for version in spec["versions"]:
            schema = strict(version["schema"]["openAPIV3Schema"])
            schemas[file_name(spec["group"], version["name"], spec["names"]["kind"])] = schema
    return schemas


def main(out: Path, kubernetes: Path, keda: Path, operator: Path) -> None:
    schemas = kubernetes_schemas(kubernetes / "api" / "openapi-spec" / "swagger.json")
    for root, files in ((keda, CRD_FILES["keda"]), (operator, CRD_FILES["prometheus-operator"])):
        for name in files:
            schemas |= crd_schemas(root / name)
    out.mkdir(parents=True, exist_ok=True)
    for name, schema in sorted(schemas.items()):
        (out / name).write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
    print(f"k8s_schemas: wrote {len(schemas)} schemas to {out}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*(Path(arg) for arg in sys.argv[1:]))
