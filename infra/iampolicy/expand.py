"""Prints template.yaml as CloudFormation sees it after the SAM transform, as JSON.

Usage: python3 expand.py TEMPLATE [Name=Value ...]

aws-sam-translator (installed with cfn-lint) expands each AWS::Serverless::Function into its IAM
role, with the policy templates and the managed policies SAM adds for event sources and
destinations (AWSLambdaDynamoDBExecutionRole, sqs:SendMessage for OnFailure...). Parameters
keep their defaults unless given; intrinsic functions are left for the caller to resolve.
"""

import json
import os
import sys

from samtranslator.parser.parser import Parser
from samtranslator.public.exceptions import InvalidDocumentException
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class OfflinePolicies(ManagedPolicyLoader):
    """Managed policy names to ARNs without asking IAM: the names SAM uses are AWS's own."""

    def __init__(self):
        super().__init__(iam_client=None)

    def load(self):
        return {}


def main():
    # SAM reads AWS::Region from the boto session; the caller resolves it later anyway.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(sys.argv[1]) as f:
        template = yaml_parse(f.read())
    # As `sam package` would: local code directories become S3 locations (not looked at).
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and not str(props.get("CodeUri", "s3://")).startswith("s3://"):
            props["CodeUri"] = "s3://artifacts/code.zip"
    params = dict(arg.split("=", 1) for arg in sys.argv[2:])
    try:
        out = transform(template, params, OfflinePolicies())
    except InvalidDocumentException as e:
        sys.exit("SAM transform failed: " + "; ".join(str(c) for c in e.causes))
    json.dump(out, sys.stdout, indent=1, sort_keys=True, default=str)


if __name__ == "__main__":
    main()
