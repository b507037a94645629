"""Seed the local AWS (moto) for the cq-apigw demo.

`apis`: sample REST and HTTP APIs with stages in each region, as a customer would have them.
`traffic`: API Gateway log events for the captured stages, as API Gateway itself would write
them (moto serves APIs but does not execute them, so nothing else would produce these logs).

`forwarder-env`: the forwarder's state table, spool bucket and token parameter in a region,
read from the deployed stack's outputs.

`operator`: the operator's prerequisites from docs/operator-guide.md: the StackSet
administration role (templates/stackset-roles/administration-role.yaml, deployed with
CloudFormation) and an IAM user with docs/iam-policy.json; prints the user's access key as
shell assignments.

Usage: seed.py apis|traffic|forwarder-env|operator --endpoint URL --regions r1,r2 [--requests N]
"""

import argparse
import json
import sys
import time
import uuid

import boto3

ACCOUNT = "123456789012"


def client(service, endpoint, region):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def seed_cloudwatch_role(endpoint, regions):
    """Most accounts already have API Gateway's account-level CloudWatch role set."""
    iam = client("iam", endpoint, "us-east-1")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "apigateway.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    try:
        arn = iam.create_role(
            RoleName="customer-apigw-cloudwatch", AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        arn = iam.get_role(RoleName="customer-apigw-cloudwatch")["Role"]["Arn"]
    for region in regions:
        client("apigateway", endpoint, region).update_account(
            patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}]
        )


def seed_rest_api(apigw, name, stages):
    api = apigw.create_rest_api(name=name, description="demo REST API")
    root = next(r for r in apigw.get_resources(restApiId=api["id"])["items"] if r["path"] == "/")
    pets = apigw.create_resource(restApiId=api["id"], parentId=root["id"], pathPart="pets")
    for method in ("GET", "POST"):
        apigw.put_method(
            restApiId=api["id"], resourceId=pets["id"], httpMethod=method, authorizationType="NONE"
        )
        apigw.put_integration(
            restApiId=api["id"],
            resourceId=pets["id"],
            httpMethod=method,
            type="HTTP",
            integrationHttpMethod=method,
            uri="https://petstore.example.com/pets",
        )
    deployment = apigw.create_deployment(restApiId=api["id"], description="initial")
    for stage in stages:
        apigw.create_stage(restApiId=api["id"], stageName=stage, deploymentId=deployment["id"])
    return api["id"]


def seed_http_api(apigw2, logs, region, name, with_customer_logging):
    api = apigw2.create_api(Name=name, ProtocolType="HTTP")
    kwargs = {}
    if with_customer_logging:
        # A customer who already ships JSON access logs: the tool must keep their destination.
        group = f"/customer/{name}/access"
        logs.create_log_group(logGroupName=group)
        fmt = {
            "requestTimeEpoch": "$context.requestTimeEpoch",
            "requestId": "$context.requestId",
            "accountId": "$context.accountId",
            "stage": "$context.stage",
            "ip": "$context.identity.sourceIp",
            "host": "$context.domainName",
            "protocol": "$context.protocol",
            "httpMethod": "$context.httpMethod",
            "path": "$context.path",
            "status": "$context.status",
        }
        kwargs["AccessLogSettings"] = {
            "DestinationArn": f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{group}",
            "Format": json.dumps(fmt),
        }
    apigw2.create_stage(ApiId=api["ApiId"], StageName="prod", **kwargs)
    return api["ApiId"]


def cmd_apis(args):
    seed_cloudwatch_role(args.endpoint, args.regions)
    for region in args.regions:
        apigw = client("apigateway", args.endpoint, region)
        apigw2 = client("apigatewayv2", args.endpoint, region)
        logs = client("logs", args.endpoint, region)
        rest = [seed_rest_api(apigw, f"petstore-{i}", ["dev", "prod"]) for i in (1, 2)]
        # One HTTP API that already ships JSON access logs (read where they are) and one
        # without access logging (enable sets ours, disable takes it away again).
        http = [
            seed_http_api(apigw2, logs, region, "orders-http", True),
            seed_http_api(apigw2, logs, region, "inventory-http", False),
        ]
        print(f"  {region}: REST APIs {', '.join(rest)} (stages dev, prod); HTTP APIs {', '.join(http)} (stage prod)")


def rest_request_lines(path, method, status, body):
    rid = str(uuid.uuid4())
    headers = (
        "{Host=api.example.com, User-Agent=Mozilla/5.0 (X11; Linux x86_64), "
        "Accept=application/json, text/plain;q=0.9, X-Forwarded-For=203.0.113.7, "
        "X-Forwarded-Proto=https, X-Forwarded-Port=443, Content-Type=application/json}"
    )
    lines = [
        f"Extended Request Id: {uuid.uuid4().hex[:16]}=",
        f"Starting execution for request: {rid}",
        f"HTTP Method: {method}, Resource Path: {path}",
        "Method request path: {}",
        "Method request query string: {limit=10}",
        f"Method request headers: {headers}",
        f"Method request body before transformations: {body}",
        "Endpoint request URI: https://petstore.example.com/pets",
        f"Received response. Status: {status}, Integration latency: 12 ms",
        "Method response body after transformations: [{\"id\":1,\"name\":\"rex\"}]",
        "Method response headers: {Content-Type=application/json, X-Amzn-Trace-Id=Root=1-abc-def}",
        "Successfully completed execution",
        f"Method completed with status: {status}",
    ]
    return [f"({rid}) {line}" for line in lines]


# What standard execution logging does to a long line: API Gateway cuts each event at 1,024
# bytes and appends " [TRUNCATED]". A stage with our log delivery (full execution logs) gets
# the whole line, up to 1 MB.
STANDARD_EVENT_LIMIT = 1024


def as_standard(message):
    raw = message.encode()
    if len(raw) <= STANDARD_EVENT_LIMIT:
        return message
    return raw[:STANDARD_EVENT_LIMIT].decode(errors="ignore") + " [TRUNCATED]"


def put_events(logs, group, stream, messages):
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    # Logged 2.5 minutes ago: the forwarder reads only events older than its settle lag
    # (2 minutes, for CloudWatch Logs' ingestion delay), as it does in AWS.
    now = int(time.time() * 1000) - 150_000
    events = [{"timestamp": now + i, "message": m} for i, m in enumerate(messages)]
    for i in range(0, len(events), 1000):
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events[i : i + 1000])
    return len(events)


def cmd_traffic(args):
    total_requests = 0
    big_bodies = 0
    full_stages = 0
    for region in args.regions:
        apigw = client("apigateway", args.endpoint, region)
        apigw2 = client("apigatewayv2", args.endpoint, region)
        logs = client("logs", args.endpoint, region)
        for api in apigw.get_rest_apis()["items"]:
            for stage in apigw.get_stages(restApiId=api["id"])["item"]:
                settings = stage.get("methodSettings", {}).get("*/*", {})
                if settings.get("loggingLevel") != "INFO":
                    continue  # not captured: API Gateway would write no execution logs
                group = f"API-Gateway-Execution-Logs_{api['id']}/{stage['stageName']}"
                full = "cequence:log-delivery" in (stage.get("tags") or {})
                messages = []
                for n in range(args.requests - 1):
                    messages += rest_request_lines("/pets", "POST", 200, json.dumps({"name": f"pet{n}"}))
                # One 50 KB JSON body: whole with full execution logs, cut at 1 KB without.
                big = json.dumps({"name": "archive", "notes": "lorem ipsum " * 4300})
                messages += rest_request_lines("/pets", "POST", 201, big)
                messages += rest_request_lines("/static/logo.png", "GET", 200, "")  # dropped: static
                if not full:
                    messages = [as_standard(m) for m in messages]
                put_events(logs, group, uuid.uuid4().hex, messages)
                total_requests += args.requests
                big_bodies += 1
                full_stages += full
        for api in apigw2.get_apis()["Items"]:
            for stage in apigw2.get_stages(ApiId=api["ApiId"])["Items"]:
                dest = (stage.get("AccessLogSettings") or {}).get("DestinationArn")
                if not dest:
                    continue
                group = dest.split(":log-group:", 1)[1].removesuffix(":*")
                messages = []
                for n in range(args.requests):
                    messages.append(
                        json.dumps(
                            {
                                "requestTimeEpoch": str(int(time.time())),
                                "requestId": str(uuid.uuid4()),
                                "accountId": ACCOUNT,
                                "stage": stage["StageName"],
                                "ip": "198.51.100.4",
                                "host": f"{api['ApiId']}.execute-api.{region}.amazonaws.com",
                                "protocol": "HTTP/1.1",
                                "httpMethod": "GET",
                                "path": f"/orders/{n}?expand=items",
                                "status": "200",
                            }
                        )
                    )
                put_events(logs, group, uuid.uuid4().hex, messages)
                total_requests += args.requests
    print(f"  seeded {total_requests} API requests as API Gateway log events, {big_bodies} of them "
          f"with a 50 KB JSON body ({full_stages} of {big_bodies} REST stages deliver full execution logs)")
    print(f"EXPECTED_TRANSACTIONS={total_requests}")


def cmd_forwarder_env(args):
    """The forwarder's environment in one region, from the outputs of the StackSet instance's
    stack (what the template sets on the function)."""
    cfn = client("cloudformation", args.endpoint, args.regions[0])
    for stack in cfn.describe_stacks()["Stacks"]:
        if not stack["StackName"].startswith("StackSet-"):
            continue
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        if "StateTableName" not in outputs:
            continue
        print(f"CEQUENCE_STATE_TABLE={outputs['StateTableName']}")
        print(f"CEQUENCE_SPOOL_BUCKET={outputs['SpoolBucketName']}")
        print(f"CEQUENCE_TOKEN_PARAMETER={outputs['TokenParameterName']}")
        return
    sys.exit(f"no StackSet instance stack with forwarder outputs in {args.regions[0]}")


def cmd_operator(args):
    root = __file__.rsplit("/scripts/", 1)[0]
    region = args.regions[0]
    cfn = client("cloudformation", args.endpoint, region)
    with open(f"{root}/templates/stackset-roles/administration-role.yaml") as f:
        cfn.create_stack(
            StackName="cq-apigw-stackset-administration-role",
            TemplateBody=f.read(),
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
    iam = client("iam", args.endpoint, region)
    iam.create_user(UserName="cq-apigw-operator")
    with open(f"{root}/docs/iam-policy.json") as f:
        iam.put_user_policy(
            UserName="cq-apigw-operator", PolicyName="cq-apigw-operator", PolicyDocument=f.read()
        )
    key = iam.create_access_key(UserName="cq-apigw-operator")["AccessKey"]
    print(f"AWS_ACCESS_KEY_ID={key['AccessKeyId']}")
    print(f"AWS_SECRET_ACCESS_KEY={key['SecretAccessKey']}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["apis", "traffic", "forwarder-env", "operator"])
    p.add_argument("--endpoint", required=True)
    p.add_argument("--regions", required=True, type=lambda s: s.split(","))
    p.add_argument("--requests", type=int, default=5)
    args = p.parse_args()
    commands = {
        "apis": cmd_apis,
        "traffic": cmd_traffic,
        "forwarder-env": cmd_forwarder_env,
        "operator": cmd_operator,
    }
    commands[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
