"""Fixtures: examples/complete applied ONCE per test run with pytest-terraform, into the sandbox (always) and into a
real AWS account (only when configured, see real_aws.py; otherwise those tests are skipped).

They are package-scoped: the local AWS (a moto server process, the stand-in's threads) stops as soon as the
integration tests are done, so the suites that run after them in the same session start from a clean process.

How pytest-terraform is made to apply a copy, with the sandbox override and the offline provider mirror:

- `pytest_terraform.terraform(...)` makes a session fixture per Terraform root module (init, plan, apply, the
  state as outputs/resources, optional destroy). It resolves the module directory when it runs, first under its
  ``module_dir`` setting (the ``--tf-mod-dir`` option, a late-bound value in ``pytest_terraform.tf.LazyModuleDir``).
  The copy's location is known only at run time, so `_apply_with_pytest_terraform` sets that value to
  ``<copy>/examples`` just before it runs the fixture (declared at run time too, see `_pytest_terraform_fixture`,
  and cached by the fixtures below). The roots
  ``examples/aar_e2e_sandbox`` and ``examples/aar_e2e_aws`` are copies of ``examples/complete`` at the same depth,
  so its ``source = "../.."`` is still the copied module. pytest-terraform writes ``tf_resources.json`` there.
- pytest-terraform passes no ``-var``: the variables go into ``sandbox.auto.tfvars.json``, the provider's
  endpoints into ``sandbox_override.tf``, both in the copy.
- pytest-terraform runs terraform with this process's environment: the CLI config (provider mirror) and the
  parallelism (``TF_CLI_ARGS_plan``/``_apply``) are set in ``os.environ`` only while the fixture applies.
- The sandbox deployment is not destroyed (teardown off): moto's state dies with the server. The real-AWS one is
  destroyed by pytest-terraform's teardown.

Without a terraform binary the root conftest blocks pytest-terraform; the fixtures then skip loudly (or fail with
AAR_REQUIRE_TERRAFORM=1) through `require_terraform`.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.deployment import Deployment, LocalAws, LocalDeployment, output_values, write_sandbox_files
from sandbox.terraform import Terraform, copy_module, provider_mirror, write_cli_config
from tests.integration import real_aws
from tests.integration.plan_check import APPLIED, AppliedRoot
from tests.integration.targets import SANDBOX_RESOURCE_TYPES, SandboxTarget, Target
from tests.terraform.tfrunner import require_terraform

SANDBOX_ROOT = "aar_e2e_sandbox"
AWS_ROOT = "aar_e2e_aws"
PARALLELISM = "-parallelism=32"  # the apply is bound by the SQS waiters; more parallel branches, less waiting


def _pytest_terraform_fixture(root: str, teardown: str) -> Any:
    """pytest-terraform's session fixture object for `root` (created on first use with its decorator).

    Not a module-level ``@terraform`` declaration: pytest imports this conftest before pytest-terraform is
    configured when tests/integration is named on the command line, and the decorator needs that configuration.
    """
    from pytest_terraform import terraform  # type: ignore[import-untyped]

    # The decorator takes its caller's directory from the first frame up the stack with a `__file__` local (a
    # module's frame). A pytest-xdist worker (make test) has none (execnet runs it from a string): this frame
    # names its own file. The module directory still comes from LazyModuleDir, the decorator's first candidate.
    __file__ = globals()["__file__"]  # noqa: F841 (read by pytest-terraform through this frame)
    try:
        return terraform.get_fixture(root)
    except KeyError:
        terraform(root, scope="session", teardown=teardown)
        return terraform.get_fixture(root)


@pytest.fixture(scope="package")
def module_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the module with two more roots, copies of examples/complete: one per target."""
    tree = copy_module(tmp_path_factory.mktemp("module"))
    for root in (SANDBOX_ROOT, AWS_ROOT):
        shutil.copytree(tree / "examples" / "complete", tree / "examples" / root)
    return tree


def _apply_with_pytest_terraform(
    request: pytest.FixtureRequest, tree: Path, root: str, work_dir: Path
) -> tuple[Path, dict[str, Any]]:
    """Request pytest-terraform's fixture for `root` of `tree`; returns (module dir, outputs). The runner is kept in
    `APPLIED` (see `sandbox_root`)."""
    require_terraform()
    from pytest_terraform import terraform, tf

    fixture = _pytest_terraform_fixture(root, terraform.TEARDOWN_ON if root == AWS_ROOT else terraform.TEARDOWN_OFF)
    tf.LazyModuleDir.value = str(tree / "examples")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TF_CLI_CONFIG_FILE", str(write_cli_config(work_dir / "cli.tfrc", provider_mirror())))
        env.setenv("CHECKPOINT_DISABLE", "1")
        env.setenv("TF_CLI_ARGS_plan", PARALLELISM)
        env.setenv("TF_CLI_ARGS_apply", PARALLELISM)
        # init, plan, apply; tf_resources.json; its teardown (when on) is registered on this request.
        state = fixture(request, request.getfixturevalue("tmpdir_factory"), request.getfixturevalue("worker_id"))
    module_dir = tree / "examples" / root
    assert (module_dir / "tf_resources.json").is_file(), "pytest-terraform did not apply the copy"
    runner = fixture.runner
    base = Terraform.create(work_dir / "terraform", mirror=provider_mirror())
    variables = {**base.env, "TF_CLI_CONFIG_FILE": str(work_dir / "cli.tfrc"), "TF_DATA_DIR": str(runner.work_dir)}
    APPLIED[root] = AppliedRoot(module_dir, Terraform(base.binary, variables), (f"-state={runner.state_path}",))
    return module_dir, output_values(state.outputs)


@pytest.fixture(scope="package")
def local_aws() -> Iterator[LocalAws]:
    with LocalAws() as aws:
        yield aws


@pytest.fixture(scope="package")
def sandbox_deployment(
    request: pytest.FixtureRequest,
    local_aws: LocalAws,
    module_tree: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> LocalDeployment:
    """examples/complete in the sandbox: analyzer creation off (the stand-in's analyzer instead), no Lambda layer
    (moto cannot resolve the public Powertools layer) and no example-wide KMS key: with it, the example cannot be
    planned (test_deployment.py::test_examples_complete_plans_with_its_kms_key); without it, the module creates
    its topic's own key, which moto's kms endpoint serves."""
    require_terraform()
    module_dir = module_tree / "examples" / SANDBOX_ROOT
    write_sandbox_files(
        module_dir,
        local_aws.endpoint_url,
        region=local_aws.region,
        variables={
            "notification_email": "security@example.com",
            "create_analyzer": False,
            "analyzer_arns": [local_aws.standin.analyzer_arn],
            "lambda_layers": [],
            "create_kms_key": False,
            "resource_types": list(SANDBOX_RESOURCE_TYPES),
            # The package's tests share the deployed queue: a delayed confirmation message would land in another
            # test's receive. test_confirmation.py turns it on for the function while it runs.
            "confirm_changes": {"enabled": False},
        },
    )
    work_dir = tmp_path_factory.mktemp("sandbox")
    module_dir, outputs = _apply_with_pytest_terraform(request, module_tree, SANDBOX_ROOT, work_dir)
    return LocalDeployment(local_aws, Deployment(module_dir, outputs), work_dir / "lambda")


@pytest.fixture(scope="package")
def sandbox(sandbox_deployment: LocalDeployment) -> SandboxTarget:
    return SandboxTarget(sandbox_deployment)


@pytest.fixture(scope="package")
def sandbox_root(sandbox_deployment: LocalDeployment) -> AppliedRoot:
    """The sandbox's root module as pytest-terraform applied it, to run `terraform plan` on it."""
    del sandbox_deployment  # applied by now
    return APPLIED[SANDBOX_ROOT]


@pytest.fixture(scope="package")
def aws_target(
    request: pytest.FixtureRequest, module_tree: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[real_aws.RealAwsTarget]:
    if not real_aws.ENABLED:
        pytest.skip(real_aws.NOT_CONFIGURED)
    require_terraform()
    import boto3

    module_dir = module_tree / "examples" / AWS_ROOT
    write_sandbox_files(module_dir, None, variables=real_aws.terraform_variables(f"aar-e2e-{uuid.uuid4().hex[:8]}"))
    module_dir, outputs = _apply_with_pytest_terraform(request, module_tree, AWS_ROOT, tmp_path_factory.mktemp("aws"))
    target = real_aws.RealAwsTarget(Deployment(module_dir, outputs), boto3.session.Session())
    try:
        yield target
    finally:
        target.cleanup()


@pytest.fixture(scope="package", params=["sandbox", "aws"])
def target(request: pytest.FixtureRequest) -> Target:
    """Each scenario once per target; the aws target is skipped unless AAR_E2E_REAL_AWS=1."""
    if request.param == "aws":
        aws: Target = request.getfixturevalue("aws_target")
        return aws
    local: Target = request.getfixturevalue("sandbox")
    return local
