"""Start a moto server on 127.0.0.1 for cq-apigw's tests and demo.

moto (5.2.x) evaluates S3 bucket policies, but two gaps make a correct policy behave wrongly:
it only knows the `StringEquals` condition operator (an unknown operator such as `Bool` is
ignored, so the standard TLS-only `Deny ... aws:SecureTransport=false` statement matches every
request), and a statement whose condition does not hold is treated as an explicit DENY instead
of "does not apply". We fix the emulator, not the product: requests are treated as arriving
over TLS (every AWS client uses TLS; moto listens on plain http only because it is local),
`Bool` is evaluated, and unmet conditions make a statement not apply, as in AWS.
It also fixes the root element of moto's GetBucketVersioning answer, which the SDK rejects,
names StackSet instance stacks as AWS does (moto's `StackSet:<name>` breaks generated ARNs),
lets PutSubscriptionFilter update an existing filter when the group's quota is used up, gives
`Ref` of an AWS::Lambda::Permission an id, turns a String parameter given to a Lambda
function's ReservedConcurrentExecutions into the integer CloudFormation makes of it, masks
NoEcho parameters in DescribeStackSet as CloudFormation does, and applies an UpdateStage
`remove` of a method-settings path such as `/*/*` (moto ignores it). For HTTP APIs it adds
UpdateStage, DeleteAccessLogSettings and tags on a stage's ARN, which moto lacks. It adds
Account Management ListRegions (moto has none), answering from the region list moto's own EC2
DescribeRegions uses, so both APIs agree on what is enabled. For `cq-apigw doctor` it adds
Lambda GetAccountSettings and IAM SimulatePrincipalPolicy (moto has neither), both computed
from moto's own state: its functions' reserved concurrency, and the principal's policies
evaluated by moto's IAM policy engine. It lets CloudWatch Logs deliveries take a REST API
stage's execution logs as a source (moto refuses service `apigateway`), with the checks AWS
makes, and refuses to delete a delivery source or destination a delivery still uses.

Usage: python moto_server.py [--port N] [--port-file F] [--exit-on-stdin-close]
With --port 0 a free port is chosen; the chosen port is printed as `PORT=<n>` on stdout
(and written to --port-file) once the server accepts connections.
"""

import argparse
import json
import signal
import socket
import sys
import threading


def patch_moto() -> None:
    from moto.iam import access_control, policy_conditions
    from moto.s3 import models as s3_models

    def bool_operation(expected, actual: str) -> bool:
        values = expected if isinstance(expected, list) else [expected]
        return any(str(v).lower() == str(actual).lower() for v in values)

    policy_conditions.CONDITION_OPERATIONS.setdefault("Bool", bool_operation)

    original = access_control.IAMPolicyStatement.is_action_permitted

    def is_action_permitted(self, action, resource="*", principal=None, incoming=None):
        if self._statement.get("Condition") and not self._check_conditions(incoming):
            return access_control.PermissionResult.NEUTRAL
        return original(self, action, resource, principal, incoming)

    access_control.IAMPolicyStatement.is_action_permitted = is_action_permitted

    def get_permission(self, action: str, resource: str):
        if self.policy is None:
            return access_control.PermissionResult.NEUTRAL
        policy = access_control.IAMPolicy(self.policy.decode())
        return policy.is_action_permitted(
            action, resource, incoming_condition_values={"aws:SecureTransport": "true"}
        )

    s3_models.FakeBucket.get_permission = get_permission

    # moto 5.2.5 answers GetBucketVersioning with root element <GetBucketVersioningResponse>;
    # S3 (and so the Rust SDK) uses <VersioningConfiguration>.
    from moto.s3.responses import S3Response

    def get_bucket_versioning(self):
        status = self.backend.get_bucket_versioning(self.bucket_name)
        inner = f"<Status>{status}</Status>" if status else ""
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"{inner}</VersioningConfiguration>"
        )
        return 200, {}, body

    S3Response.get_bucket_versioning = get_bucket_versioning

    # AWS names a StackSet instance's stack `StackSet-<stackset>-<uuid>`; moto 5.2.5 uses
    # `StackSet:<stackset>`. The colon then lands in generated physical names (the forwarder's
    # function), whose ARN cannot be parsed back when the custom resource's ServiceToken is
    # resolved, so every CreateStackInstances of our template fails in moto only.
    from moto.cloudformation import models as cfn_models
    from moto.moto_api._internal import mock_random

    original_create_stack = cfn_models.CloudFormationBackend.create_stack

    def create_stack(self, name, *args, **kwargs):
        if name.startswith("StackSet:"):
            name = f"StackSet-{name[len('StackSet:'):]}-{mock_random.uuid4()}"
        return original_create_stack(self, name, *args, **kwargs)

    cfn_models.CloudFormationBackend.create_stack = create_stack

    # PutSubscriptionFilter with the name of an existing filter updates it in place, also when
    # the group's quota (2 by default) is used up; moto 5.2.5 checks the quota first and
    # refuses the update with LimitExceededException.
    from moto.logs import models as logs_models

    original_put_subscription_filter = logs_models.LogGroup.put_subscription_filter

    def put_subscription_filter(self, filter_name, filter_pattern, destination_arn, role_arn):
        existing = self.subscription_filters.get(filter_name)
        if existing is not None:
            existing.update(filter_pattern, destination_arn, role_arn)
            return
        original_put_subscription_filter(
            self, filter_name, filter_pattern, destination_arn, role_arn
        )

    logs_models.LogGroup.put_subscription_filter = put_subscription_filter

    # `Ref` of an AWS::Lambda::Permission is an id string in CloudFormation; moto 5.2.5's model
    # has no physical id, so the Ref resolves to the Python object, and a custom resource
    # property holding it cannot be serialized (the stack fails at once).
    from moto.awslambda import models as lambda_models

    original_create_permission = lambda_models.Permission.create_from_cloudformation_json.__func__

    def create_permission(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        permission = original_create_permission(
            cls, resource_name, cloudformation_json, account_id, region_name, **kw
        )
        permission.physical_resource_id = resource_name
        return permission

    lambda_models.Permission.create_from_cloudformation_json = classmethod(create_permission)

    # CloudFormation converts a String parameter to an Integer property; moto 5.2.5 stores
    # `ReservedConcurrentExecutions: !Ref SomeStringParameter` as the string "4" and then
    # answers GetFunction with `"ReservedConcurrentExecutions": "4"`, which the SDK rejects.
    # moto 5.2.5 also drops the `Architectures` property (every function comes out x86_64);
    # CloudFormation passes it to CreateFunction, so it is applied here the same way.
    original_create_function = lambda_models.LambdaFunction.create_from_cloudformation_json.__func__

    def create_function(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
        props = cloudformation_json.get("Properties", {})
        reserved = props.get("ReservedConcurrentExecutions")
        if isinstance(reserved, str) and reserved.isdigit():
            props["ReservedConcurrentExecutions"] = int(reserved)
        fn = original_create_function(
            cls, resource_name, cloudformation_json, account_id, region_name, **kw
        )
        if "Architectures" in props:
            fn.architectures = props["Architectures"]
        return fn

    lambda_models.LambdaFunction.create_from_cloudformation_json = classmethod(create_function)

    # CloudFormation masks NoEcho parameters (`*****`) in every call that describes a stack or
    # a StackSet; moto 5.2.5 returns them in clear from DescribeStackSet, so a client logging
    # responses would print a secret only against moto.
    import copy

    import yaml
    from moto.cloudformation import responses as cfn_responses

    class _IgnoreTags(yaml.SafeLoader):
        pass

    _IgnoreTags.add_multi_constructor("!", lambda loader, suffix, node: None)

    def no_echo_keys(template):
        try:
            doc = json.loads(template)
        except (TypeError, ValueError):
            try:
                doc = yaml.load(template, Loader=_IgnoreTags)
            except yaml.YAMLError:
                return set()
        params = (doc or {}).get("Parameters") or {}
        return {
            k for k, v in params.items()
            if isinstance(v, dict) and str(v.get("NoEcho", "")).lower() == "true"
        }

    def masked(parameters, keys):
        if isinstance(parameters, dict):
            return {k: ("*****" if k in keys else v) for k, v in parameters.items()}
        if isinstance(parameters, list):
            return [
                {**p, "ParameterValue": "*****"} if p.get("ParameterKey") in keys else p
                for p in parameters
            ]
        return parameters

    original_describe_stack_set = cfn_responses.CloudFormationResponse.describe_stack_set

    def describe_stack_set(self):
        result = original_describe_stack_set(self)
        stackset = result.result.get("StackSet")
        keys = no_echo_keys(getattr(stackset, "template", None))
        if keys:
            shown = copy.copy(stackset)
            shown.parameters = masked(stackset.parameters, keys)
            result.result["StackSet"] = shown
        return result

    cfn_responses.CloudFormationResponse.describe_stack_set = describe_stack_set

    # UpdateStage `remove` of a method-settings path (`/*/*`, `/pets/GET`) deletes that
    # override in AWS; moto ignores it. Operations still apply in order, as in AWS.
    from moto.apigateway import models as apigw_models

    original_apply_operations = apigw_models.Stage.apply_operations

    def apply_operations(self, patch_operations):
        for op in patch_operations:
            parts = op.get("path", "").split("/")
            if (
                op.get("op") == "remove"
                and len(parts) == 3
                and parts[0] == ""
                and parts[1] not in ("", "accessLogSettings", "variables")
                and parts[2] != ""
            ):
                self.method_settings.pop(f"{parts[1]}/{parts[2]}", None)
            else:
                original_apply_operations(self, [op])
        return self

    apigw_models.Stage.apply_operations = apply_operations

    patch_apigatewayv2_stages()
    patch_logs_deliveries()
    patch_account_list_regions()
    patch_lambda_account_settings()
    patch_iam_simulate_principal_policy()


def patch_apigatewayv2_stages() -> None:
    """moto's apigatewayv2 has no UpdateStage, no DeleteAccessLogSettings and no tags on a
    stage's ARN (`arn:aws:apigateway:{region}::/apis/{id}/stages/{name}`); GetStage(s) show
    only the tags given at CreateStage. Add them as API Gateway documents them: UpdateStage
    changes only the fields it is given, DeleteAccessLogSettings answers 204, and a stage's
    tags live in the backend's tagger like an API's, so GetStages shows TagResource's tags."""
    import json as _json
    from datetime import datetime
    from urllib.parse import unquote

    from moto.apigatewayv2 import models as v2_models
    from moto.apigatewayv2 import responses as v2_responses
    from moto.apigatewayv2 import urls as v2_urls

    v2_urls.url_paths[
        "{0}/v2/apis/(?P<api_id>[^/]+)/stages/(?P<stage_name>[^/]+)/accesslogsettings$"
    ] = v2_responses.ApiGatewayV2Response.dispatch
    v2_urls.url_paths[
        "{0}/v2/tags/(?P<resource_arn_pt1>[^/]+)/apis/(?P<resource_arn_pt2>[^/]+)"
        "/stages/(?P<resource_arn_pt3>[^/]+)$"
    ] = v2_responses.ApiGatewayV2Response.dispatch

    original_create_stage = v2_models.Api.create_stage

    def create_stage(self, config):
        stage = original_create_stage(self, config)
        stage.arn = f"{self.arn}/stages/{stage.name}"
        stage.backend = self.backend
        self.backend.tag_resource(stage.arn, stage.tags)
        return stage

    v2_models.Api.create_stage = create_stage

    original_to_json = v2_models.Stage.to_json

    def to_json(self):
        dct = original_to_json(self)
        if getattr(self, "backend", None) is not None:
            dct["tags"] = self.backend.get_tags(self.arn)
        return dct

    v2_models.Stage.to_json = to_json

    fields = {
        "accessLogSettings": "access_log_settings",
        "autoDeploy": "auto_deploy",
        "clientCertificateId": "client_certificate_id",
        "defaultRouteSettings": "default_route_settings",
        "description": "description",
        "routeSettings": "route_settings",
        "stageVariables": "stage_variables",
    }

    def stage_from_path(response):
        parts = response.path.split("/")
        api_id = parts[3]
        stage_name = unquote(parts[5])
        return response.apigatewayv2_backend.get_stage(api_id, stage_name)

    def update_stage(self):
        stage = stage_from_path(self)
        body = _json.loads(self.body or "{}")
        for key, attr in fields.items():
            if key in body:
                setattr(stage, attr, body[key])
        stage.updated = datetime.now()
        return 200, {}, _json.dumps(stage.to_json())

    def delete_access_log_settings(self):
        stage = stage_from_path(self)
        stage.access_log_settings = None
        return 204, {}, ""

    v2_responses.ApiGatewayV2Response.update_stage = update_stage
    v2_responses.ApiGatewayV2Response.delete_access_log_settings = delete_access_log_settings


def patch_logs_deliveries() -> None:
    """CloudWatch Logs deliveries of API Gateway REST execution logs, as the API Gateway guide
    ("Create a log delivery for REST API execution logs") and the Logs API reference describe
    them. moto 5.2.5 refuses PutDeliverySource for service `apigateway` ("Cannot access
    provided service."); here it takes logType EXECUTION_LOGS (the only one API Gateway
    offers) for `arn:aws:apigateway:{region}:{account-id}:/restapis/{id}/stages/{stage}`.
    Other services keep moto's behaviour. Refusals use moto's logs ValidationException and
    ConflictException, the two errors the Logs reference lists for these operations.
    moto has no DescribeConfigurationTemplates, so none is added here, and nothing is
    delivered (tests write the delivered records themselves)."""
    import re

    from moto.apigateway.models import apigateway_backends
    from moto.logs import models as logs_models
    from moto.logs.exceptions import ConflictException, ValidationException

    backend_cls = logs_models.LogsBackend
    stage_arn = re.compile(
        r"arn:aws[\w-]*:apigateway:([\w-]+):(\d{12}):/restapis/([^/]+)/stages/([^/]+)"
    )

    # Delivery source and destination names: length 1-60, pattern [\w-]* (Logs API
    # reference); moto checks neither, and boto3/the Rust SDK do not check pattern or max.
    def check_name(name):
        if not name or len(name) > 60:
            raise ValidationException(
                f"1 validation error detected: Value '{name}' at 'name' failed to satisfy "
                "constraint: Member must have length between 1 and 60"
            )
        if not re.fullmatch(r"[\w-]*", name, re.ASCII):
            raise ValidationException(
                f"1 validation error detected: Value '{name}' at 'name' failed to satisfy "
                r"constraint: Member must satisfy regular expression pattern: [\w-]*"
            )

    original_put_source = backend_cls.put_delivery_source

    def put_delivery_source(self, name, resource_arn, log_type, tags):
        check_name(name)
        if (resource_arn or "").split(":")[2:3] != ["apigateway"]:
            return original_put_source(self, name, resource_arn, log_type, tags)
        if log_type != "EXECUTION_LOGS":
            raise ValidationException(msg=" This service is not allowed for this LogSource.")
        m = stage_arn.fullmatch(resource_arn)
        if not m:
            raise ValidationException(
                "Invalid resourceArn: expected arn:aws:apigateway:{region}:{account-id}"
                ":/restapis/{rest-api-id}/stages/{stage-name}"
            )
        region, account, api_id, stage_name = m.groups()
        # The stage must be the caller's (same account and region) and exist ...
        stage = None
        if (region, account) == (self.region_name, self.account_id):
            apis = apigateway_backends[account][region].apis
            stage = apis[api_id].stages.get(stage_name) if api_id in apis else None
        if stage is None:
            raise ValidationException(
                f"Stage '{stage_name}' of REST API '{api_id}' does not exist in this account "
                "and region."
            )
        # ... and have execution logging on: "Set loggingLevel to ERROR or INFO. If logging
        # is not enabled, the delivery source creation fails." (stage-wide `*/*` setting).
        level = (stage.method_settings.get("*/*") or {}).get("loggingLevel")
        if level not in ("ERROR", "INFO"):
            raise ValidationException(
                f"Execution logging must be enabled on stage '{stage_name}' of REST API "
                f"'{api_id}' (set loggingLevel to ERROR or INFO) to create a delivery source."
            )
        # One delivery source per resource: another name for the same stage is a conflict;
        # the same name again is an update of that source.
        for other in self.delivery_sources.values():
            if other.name != name and resource_arn in other.resource_arns:
                raise ConflictException(
                    f"Delivery source '{other.name}' already exists for resource "
                    f"{resource_arn}."
                )
        # From here on as moto does for the services it knows.
        if name in self.delivery_sources:
            if tags:
                raise ConflictException(
                    msg="Tags can only be provided when a resource is being created, not updated."
                )
            if resource_arn not in self.delivery_sources[name].resource_arns:
                raise ConflictException(
                    msg="Update to existing Delivery Source with new ResourceId is not allowed. "
                    "Please create a new Delivery Source instead."
                )
        source = logs_models.DeliverySource(
            self.account_id, self.region_name, name, resource_arn, log_type, tags
        )
        self.delivery_sources[name] = source
        if tags:
            self.tag_resource(source.arn, tags)
        return source

    backend_cls.put_delivery_source = put_delivery_source

    original_put_destination = backend_cls.put_delivery_destination

    def put_delivery_destination(self, name, output_format, delivery_destination_configuration,
                                 tags):
        check_name(name)
        return original_put_destination(
            self, name, output_format, delivery_destination_configuration, tags
        )

    backend_cls.put_delivery_destination = put_delivery_destination

    # moto gives every delivery without recordFields CloudFront's field list; execution logs
    # have no selectable fields, so an API Gateway delivery shows none.
    original_create_delivery = backend_cls.create_delivery

    def create_delivery(self, delivery_source_name, delivery_destination_arn, record_fields,
                        field_delimiter, s3_delivery_configuration, tags):
        delivery = original_create_delivery(
            self, delivery_source_name, delivery_destination_arn, record_fields,
            field_delimiter, s3_delivery_configuration, tags,
        )
        source = self.delivery_sources[delivery_source_name]
        if record_fields is None and source.service == "apigateway":
            delivery.record_fields = None
        return delivery

    backend_cls.create_delivery = create_delivery

    # "You can't delete a delivery source [destination] if any current deliveries are
    # associated with it" (DeleteDeliverySource/DeleteDeliveryDestination); moto deletes it.
    def in_use(deliveries, matches):
        return next((d.id for d in deliveries.values() if matches(d)), None)

    original_delete_source = backend_cls.delete_delivery_source

    def delete_delivery_source(self, name):
        used_by = in_use(self.deliveries, lambda d: d.delivery_source_name == name)
        if name in self.delivery_sources and used_by:
            raise ConflictException(
                f"Delivery source '{name}' is used by delivery {used_by}; delete the delivery "
                "first."
            )
        return original_delete_source(self, name)

    backend_cls.delete_delivery_source = delete_delivery_source

    original_delete_destination = backend_cls.delete_delivery_destination

    def delete_delivery_destination(self, name):
        dest = self.delivery_destinations.get(name)
        used_by = dest and in_use(
            self.deliveries, lambda d: d.delivery_destination_arn == dest.arn
        )
        if used_by:
            raise ConflictException(
                f"Delivery destination '{name}' is used by delivery {used_by}; delete the "
                "delivery first."
            )
        return original_delete_destination(self, name)

    backend_cls.delete_delivery_destination = delete_delivery_destination


def patch_account_list_regions() -> None:
    """Account ListRegions (POST /listRegions) as the Account Management reference documents
    it: the regions of the caller's partition with RegionOptStatus ENABLED_BY_DEFAULT, ENABLED
    or DISABLED, filtered by RegionOptStatusContains, paged by MaxResults (1-50) and an opaque
    NextToken. The regions and their opt-in state are moto's EC2 ones (`opt-in-not-required`
    is ENABLED_BY_DEFAULT, `opted-in` ENABLED, `not-opted-in` DISABLED), so the two agree."""
    import base64
    import json as _json

    from moto.account import responses as account_responses
    from moto.account import urls as account_urls
    from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend

    account_urls.url_paths["{0}/listRegions$"] = account_responses.AccountResponse.dispatch
    statuses = {
        "opt-in-not-required": "ENABLED_BY_DEFAULT",
        "opted-in": "ENABLED",
        "not-opted-in": "DISABLED",
    }
    china = (".amazonaws.com.cn",)

    def in_partition(region, partition):
        if partition == "aws-cn":
            return region.endpoint.endswith(china)
        if partition == "aws-us-gov":
            return region.name.startswith("us-gov-")
        return not region.endpoint.endswith(china) and not region.name.startswith("us-gov-")

    def error(code, message):
        from moto.core.exceptions import JsonRESTError

        raise JsonRESTError(code, message)

    def list_regions(self):
        body = _json.loads(self.body or "{}")
        wanted = body.get("RegionOptStatusContains")
        max_results = body.get("MaxResults", 20)
        if not isinstance(max_results, int) or not 1 <= max_results <= 50:
            return error("ValidationException", "MaxResults must be between 1 and 50")
        regions = sorted(
            (
                {"RegionName": r.name, "RegionOptStatus": statuses[r.opt_in_status]}
                for r in RegionsAndZonesBackend.regions
                if in_partition(r, self.partition)
            ),
            key=lambda r: r["RegionName"],
        )
        if wanted:
            regions = [r for r in regions if r["RegionOptStatus"] in wanted]
        start = 0
        if body.get("NextToken"):
            try:
                start = int(base64.b64decode(body["NextToken"]).decode())
            except ValueError:
                return error("ValidationException", "invalid NextToken")
        page = regions[start : start + max_results]
        out = {"Regions": page}
        if start + max_results < len(regions):
            out["NextToken"] = base64.b64encode(str(start + max_results).encode()).decode()
        return 200, {}, _json.dumps(out)

    account_responses.AccountResponse.list_regions = list_regions


def patch_lambda_account_settings() -> None:
    """Lambda GetAccountSettings (GET /2016-08-19/account-settings/): the account's
    concurrency limit (moto's own MOTO_LAMBDA_CONCURRENCY_QUOTA, else AWS's default 1000), the
    unreserved part (the limit less every function's reserved concurrency in the region) and
    the code-size limits, as the Lambda API reference documents them."""
    import json as _json
    import os

    from moto.awslambda import responses as lambda_responses
    from moto.awslambda import urls as lambda_urls

    # The SDKs call it with a trailing slash; moto's route conversion drops an optional `/?`.
    for path in (r"{0}/(?P<api_version>[^/]+)/account-settings$", r"{0}/(?P<api_version>[^/]+)/account-settings/$"):
        lambda_urls.url_paths[path] = lambda_responses.LambdaResponse.dispatch

    def get_account_settings(self):
        limit = int(os.environ.get("MOTO_LAMBDA_CONCURRENCY_QUOTA", "1000"))
        functions = list(self.backend.list_functions())
        reserved = sum(int(f.reserved_concurrency or 0) for f in functions)
        code = sum(int(getattr(f, "code_size", 0) or 0) for f in functions)
        body = {
            "AccountLimit": {
                "TotalCodeSize": 80530636800,
                "CodeSizeUnzipped": 262144000,
                "CodeSizeZipped": 52428800,
                "ConcurrentExecutions": limit,
                "UnreservedConcurrentExecutions": limit - reserved,
            },
            "AccountUsage": {"TotalCodeSize": code, "FunctionCount": len(functions)},
        }
        return 200, {}, _json.dumps(body)

    lambda_responses.LambdaResponse.get_account_settings = get_account_settings


def patch_iam_simulate_principal_policy() -> None:
    """IAM SimulatePrincipalPolicy for a user or role: every action x resource is evaluated
    against the principal's inline and attached policies (and a user's groups') with moto's
    policy engine and the given context entries; explicit Deny wins, then Allow, else
    implicitDeny, as IAM's evaluation logic has it. Permissions boundaries and SCPs are not
    modelled (moto has no SCP evaluation)."""
    from moto.core.responses import ActionResult
    from moto.iam import access_control
    from moto.iam import responses as iam_responses

    def policies_of(backend, arn):
        name = arn.rsplit("/", 1)[-1]
        if ":role/" in arn:
            p = backend.get_role_by_arn(arn)
            return list(p.policies.values()) + list(p.managed_policies.values())
        user = backend.get_user(name)
        docs = list(user.policies.values()) + list(user.managed_policies.values())
        for g in backend.get_groups_for_user(name):
            docs += list(g.policies.values()) + list(g.managed_policies.values())
        return docs

    def simulate_principal_policy(self):
        params = self._get_params()
        source = params.get("PolicySourceArn")
        actions = params.get("ActionNames") or []
        resources = params.get("ResourceArns") or ["*"]
        context = {}
        for entry in params.get("ContextEntries") or []:
            values = entry.get("ContextKeyValues") or []
            if values:
                context[entry["ContextKeyName"]] = values[0]
        docs = policies_of(self.backend, source)
        results = []
        for action in actions:
            for resource in resources:
                found = [
                    access_control.IAMPolicy(d).is_action_permitted(
                        action, resource, incoming_condition_values=context
                    )
                    for d in docs
                ]
                if access_control.PermissionResult.DENIED in found:
                    decision = "explicitDeny"
                elif access_control.PermissionResult.PERMITTED in found:
                    decision = "allowed"
                else:
                    decision = "implicitDeny"
                results.append(
                    {
                        "EvalActionName": action,
                        "EvalResourceName": resource,
                        "EvalDecision": decision,
                        "MatchedStatements": [],
                        "MissingContextValues": [],
                    }
                )
        return ActionResult({"EvaluationResults": results, "IsTruncated": False})

    iam_responses.IamResponse.simulate_principal_policy = simulate_principal_policy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--port-file")
    parser.add_argument(
        "--exit-on-stdin-close",
        action="store_true",
        help="stop when stdin closes (tests hold a pipe, so the server dies with them)",
    )
    args = parser.parse_args()

    patch_moto()
    from moto.server import ThreadedMotoServer

    port = args.port or free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with socket.create_connection(("127.0.0.1", port), timeout=30):
        pass
    if args.port_file:
        with open(args.port_file, "w") as f:
            f.write(str(port))
    print(f"PORT={port}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.exit_on_stdin_close:
        threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
