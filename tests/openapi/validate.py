"""Validates real answers of hoody-daemon against its OpenAPI document (tests/it/openapi.rs).

Usage: validate.py DOCUMENT SAMPLES [--every-operation]

DOCUMENT is the daemon's /openapi.json; SAMPLES a JSON list of answers the test collected:
{"method", "path" (the documented template), "status", "content_type", "body"} for a JSON
answer, or {"schema": "Event", "body"} for one event of a stream. Each answer must have a
documented status and content type, and its body must match the schema, strictly: every object
schema that names its properties is closed (additionalProperties: false unless it says
otherwise), so a field the daemon sends that the document does not name is a failure. Prints
every failure and exits 1 if there is one. With --every-operation, an operation of the document
that no sample answered with a 2xx is a failure too (so a route added without a sample fails).
"""

import copy
import json
import sys

from jsonschema import Draft202012Validator

BASE = "/api/v1/daemon"


def close_objects(value):
    """Makes every object schema with properties refuse the properties it does not name."""
    if isinstance(value, dict):
        kind = value.get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        if "object" in kinds and isinstance(value.get("properties"), dict):
            value.setdefault("additionalProperties", False)
        for key, item in value.items():
            # A map of property names is not a schema itself, but its values are.
            close_objects(item)
    elif isinstance(value, list):
        for item in value:
            close_objects(item)


def pointer(*parts):
    return "#/" + "/".join(str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def main():
    with open(sys.argv[1]) as file:
        document = json.load(file)
    with open(sys.argv[2]) as file:
        samples = json.load(file)
    strict = copy.deepcopy(document)
    close_objects(strict)

    def validator(ref):
        root = dict(strict)
        root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        root["$ref"] = ref
        return Draft202012Validator(root)

    failures = []
    checked = 0
    for sample in samples:
        body = sample["body"]
        if "schema" in sample:
            where = f"event {json.dumps(body)[:200]}"
            ref = pointer("components", "schemas", sample["schema"])
        elif "response" in sample:
            where = f"{sample['response']} {sample['status']}"
            ref = pointer("components", "responses", sample["response"], "content", "application/json", "schema")
        else:
            method, path, status = sample["method"], sample["path"], str(sample["status"])
            where = f"{method.upper()} {path} {status}"
            operation = document["paths"].get(BASE + path, {}).get(method)
            if operation is None:
                failures.append(f"{where}: no such operation in the document")
                continue
            response = operation["responses"].get(status)
            if response is None:
                failures.append(f"{where}: status {status} is not documented for this operation")
                continue
            response_ref = None
            if "$ref" in response:
                response_ref = response["$ref"].split("/")[-1]
                response = document["components"]["responses"][response_ref]
            content_type = sample["content_type"].split(";")[0].strip()
            if not content_type and body is None:
                if response.get("content"):
                    failures.append(f"{where}: answered no body, but the document gives it content")
                checked += 1
                continue
            if content_type not in response.get("content", {}):
                failures.append(f"{where}: content type {content_type!r} is not documented")
                continue
            if content_type != "application/json":
                checked += 1
                continue
            if response_ref:
                ref = pointer("components", "responses", response_ref, "content", content_type, "schema")
            else:
                ref = pointer("paths", BASE + path, method, "responses", status, "content", content_type, "schema")
        errors = sorted(validator(ref).iter_errors(body), key=lambda error: list(error.absolute_path))
        for error in errors[:5]:
            location = "/".join(str(part) for part in error.absolute_path)
            failures.append(f"{where}: at /{location}: {error.message[:300]}")
        checked += 1
    if "--every-operation" in sys.argv[3:]:
        answered = {
            (sample["method"], BASE + sample["path"])
            for sample in samples
            if "method" in sample and 200 <= sample["status"] < 300
        }
        for path, operations in document["paths"].items():
            for method in operations:
                if (method, path) not in answered:
                    failures.append(f"{method.upper()} {path}: no sample answered it with a 2xx")
    for failure in failures:
        print(failure)
    print(f"{checked} answers checked, {len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
