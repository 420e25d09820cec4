"""Deploying the anchoring contract: `deploy_contract` for a given sender, and
`deploy_from_settings`, which is `certreg deploy` (deploy, grant roles, write the deployment
file of `anchoring.deployment`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_utils.address import is_address, to_checksum_address

from anchoring.artifacts import ContractArtifact, load_artifact
from anchoring.client import AnchorClient, ChainClient, RoleName, settings_artifact
from anchoring.deployment import Deployment, load_deployment
from anchoring.errors import DeploymentError, SettingsError
from anchoring.settings import AnchoringSettings

__all__ = [
    "DeployOutcome",
    "Deployment",
    "deploy_contract",
    "deploy_from_settings",
    "load_deployment",
]


def deploy_contract(
    chain: ChainClient, *, admin: str, artifact: ContractArtifact | None = None
) -> Deployment:
    """Deploy the contract from `chain`'s account with `admin` as `DEFAULT_ADMIN_ROLE`."""
    if not is_address(admin):
        raise DeploymentError(f"admin: got {admin!r}, want a 0x-hex address")
    artifact = artifact or load_artifact()
    data = bytes.fromhex(artifact.bytecode[2:]) + abi_encode(
        ["address"], [to_checksum_address(admin)]
    )
    result, receipt = chain.transact(to=None, data=data)
    address = receipt.get("contractAddress")
    if address is None:
        raise DeploymentError(f"deployment {result.tx_hash}: got no contract address in receipt")
    return Deployment(
        chain_id=chain.chain_id,
        address=to_checksum_address(address),
        block_number=result.block_number,
        tx_hash=result.tx_hash,
        contract_name=artifact.contract_name,
        abi_sha256=artifact.abi_sha256,
        compiler_version=artifact.compiler.version,
        admin=to_checksum_address(admin),
    )


@dataclass(frozen=True, slots=True)
class DeployOutcome:
    """What `deploy_from_settings` did: the deployment, where it wrote it, the roles granted."""

    deployment: Deployment
    path: Path
    #: role name -> account it was granted to (empty when the admin is not the deployer)
    granted: dict[str, str]

    def to_json(self) -> dict[str, object]:
        """The `certreg deploy --json` object."""
        return {**self.deployment.model_dump(), "path": str(self.path), "granted": self.granted}


def deploy_from_settings(
    settings: AnchoringSettings | None = None,
    *,
    admin: str | None = None,
    anchorer: str | None = None,
    issuer_admin: str | None = None,
    output: Path | None = None,
) -> DeployOutcome:
    """What `certreg deploy` does: deploy, grant the roles, write the deployment file.

    The deployer is `CERTREG_DEPLOYER_KEY` (else `CERTREG_ANCHORER_KEY`). `admin` defaults to
    the deployer; `anchorer` to the account of `CERTREG_ANCHORER_KEY`; `issuer_admin` to the
    admin. Roles are granted only when the deployer is the admin — otherwise the admin grants
    them later (docs/deploy.md). The file goes to `output` or `settings.deployment_file`.
    """
    settings = settings or AnchoringSettings()
    key = settings.deployer_key or settings.anchorer_key
    if key is None:
        raise SettingsError(
            "CERTREG_DEPLOYER_KEY / CERTREG_ANCHORER_KEY: got neither, want a deploying key"
        )
    for what, account in (("admin", admin), ("anchorer", anchorer), ("issuer admin", issuer_admin)):
        if account is not None and not is_address(account):
            raise SettingsError(f"{what}: got {account!r}, want a 0x-hex address")
    chain = ChainClient.connect(settings, private_key=key.get_secret_value())
    admin = to_checksum_address(admin) if admin else chain.address
    if anchorer is None and settings.anchorer_key is not None:
        anchorer = Account.from_key(settings.anchorer_key.get_secret_value()).address
    artifact = settings_artifact(settings)
    deployment = deploy_contract(chain, admin=admin, artifact=artifact)
    granted: dict[str, str] = {}
    if admin == chain.address:
        contract = AnchorClient(chain, deployment.address, artifact=artifact)
        wanted: dict[RoleName, str | None] = {
            "ANCHORER_ROLE": anchorer,
            "ISSUER_ADMIN_ROLE": issuer_admin or admin,
        }
        for role, account in wanted.items():
            if account is not None:
                contract.grant_role(role, account)
                granted[role] = to_checksum_address(account)
    path = output or settings.deployment_file
    deployment.save(path)
    return DeployOutcome(deployment=deployment, path=path, granted=granted)
