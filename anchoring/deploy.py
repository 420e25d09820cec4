"""Deploying the anchoring contract: `deploy_contract` for a given sender, and
`deploy_from_settings`, which is `certreg deploy` (deploy, grant roles, write the deployment
file of `anchoring.deployment`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_utils.address import is_address, to_checksum_address
from pydantic import SecretStr

from anchoring.artifacts import ContractArtifact, load_artifact
from anchoring.client import AnchorClient, ChainClient, RoleName, settings_artifact
from anchoring.deployment import Deployment, load_deployment
from anchoring.errors import DeploymentError, SettingsError
from anchoring.settings import DEV_CHAIN_IDS, AnchoringSettings

__all__ = [
    "DEFAULT_ADMIN_DELAY_S",
    "DeployOutcome",
    "Deployment",
    "check_separate_roles",
    "deploy_contract",
    "deploy_from_settings",
    "load_deployment",
]


#: Seconds between beginning and accepting a transfer of the authority (DEFAULT_ADMIN_ROLE):
#: long enough for anyone watching the chain to notice a transfer begun with a stolen key, and
#: for the authority to cancel it (docs/deploy.md §2).
DEFAULT_ADMIN_DELAY_S: Final = 3 * 24 * 3600
_UINT48_MAX: Final = 2**48 - 1


def deploy_contract(
    chain: ChainClient,
    *,
    admin: str,
    admin_delay_s: int = DEFAULT_ADMIN_DELAY_S,
    predecessor: str | None = None,
    predecessor_index: int = 0,
    artifact: ContractArtifact | None = None,
) -> Deployment:
    """Deploy the contract from `chain`'s account with `admin` as `DEFAULT_ADMIN_ROLE`, handed
    over later in two steps `admin_delay_s` seconds apart. A successor names its `predecessor`
    and the index of the predecessor's checkpoint it starts from (docs/spec.md §7.7)."""
    if not is_address(admin):
        raise DeploymentError(f"admin: got {admin!r}, want a 0x-hex address")
    if isinstance(admin_delay_s, bool) or not 0 <= admin_delay_s <= _UINT48_MAX:
        raise DeploymentError(f"admin delay: got {admin_delay_s!r}, want 0..2^48-1 seconds")
    if predecessor is not None and not is_address(predecessor):
        raise DeploymentError(f"predecessor: got {predecessor!r}, want a 0x-hex address")
    artifact = artifact or load_artifact()
    data = bytes.fromhex(artifact.bytecode[2:]) + abi_encode(
        ["address", "uint48", "address", "uint256"],
        [
            to_checksum_address(admin),
            admin_delay_s,
            to_checksum_address(predecessor or "0x" + "00" * 20),
            predecessor_index,
        ],
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


def _account_of(key: SecretStr | None) -> str | None:
    return None if key is None else str(Account.from_key(key.get_secret_value()).address)


def check_separate_roles(holders: Mapping[str, str | None], *, chain_id: int) -> None:
    """`SettingsError` unless, off a development chain, every role has an account and no
    account holds two roles: each key then does one thing, and a stolen one does only that
    (docs/deploy.md §2). On a development chain (31337, 1337) one account may do it all."""
    if chain_id in DEV_CHAIN_IDS:
        return
    for role, account in holders.items():
        if account is None:
            raise SettingsError(
                f"{role}: got no account, want one of its own (a separate key per role off "
                f"development chains; see `certreg deploy --help`)"
            )
    seen: dict[str, str] = {}
    for role, account in holders.items():
        assert account is not None
        owner = seen.get(account)
        if owner is not None:
            raise SettingsError(
                f"roles: got account {account} for both {owner} and {role} on chain "
                f"{chain_id}, want a separate account (and key) per role; one account may "
                f"hold several roles only on development chains "
                f"{', '.join(map(str, sorted(DEV_CHAIN_IDS)))}"
            )
        seen[account] = role


def deploy_from_settings(
    settings: AnchoringSettings | None = None,
    *,
    admin: str | None = None,
    anchorer: str | None = None,
    issuer_admin: str | None = None,
    log_signer: str | None = None,
    admin_delay_s: int = DEFAULT_ADMIN_DELAY_S,
    predecessor: str | None = None,
    predecessor_index: int | None = None,
    output: Path | None = None,
) -> DeployOutcome:
    """What `certreg deploy` does: deploy, grant the roles, write the deployment file.

    The deployer is `CERTREG_DEPLOYER_KEY` (else `CERTREG_ANCHORER_KEY`). `admin` defaults to
    the deployer; `anchorer`, `issuer_admin` and `log_signer` to the accounts of
    `CERTREG_ANCHORER_KEY`, `CERTREG_ISSUER_ADMIN_KEY` and `CERTREG_LOG_SIGNER_KEY` (on a
    development chain the issuer admin falls back to the admin). Off development chains each
    role must go to an account of its own (`check_separate_roles`), checked before anything
    is sent. Roles are granted only when the deployer is the admin — otherwise the admin
    grants them later (docs/deploy.md). The file goes to `output` or
    `settings.deployment_file`. A successor names its `predecessor`; it starts from the
    predecessor's checkpoint `predecessor_index` (default: its latest).
    """
    settings = settings or AnchoringSettings()
    key = settings.deployer_key or settings.anchorer_key
    if key is None:
        raise SettingsError(
            "CERTREG_DEPLOYER_KEY / CERTREG_ANCHORER_KEY: got neither, want a deploying key"
        )
    named = (
        ("admin", admin),
        ("anchorer", anchorer),
        ("issuer admin", issuer_admin),
        ("log signer", log_signer),
        ("predecessor", predecessor),
    )
    for what, account in named:
        if account is not None and not is_address(account):
            raise SettingsError(f"{what}: got {account!r}, want a 0x-hex address")
    deployer = str(Account.from_key(key.get_secret_value()).address)
    admin = to_checksum_address(admin) if admin else deployer
    dev = settings.chain_id in DEV_CHAIN_IDS
    holders: dict[str, str | None] = {
        "DEFAULT_ADMIN_ROLE": admin,
        "ANCHORER_ROLE": anchorer or _account_of(settings.anchorer_key),
        "ISSUER_ADMIN_ROLE": issuer_admin
        or _account_of(settings.issuer_admin_key)
        or (admin if dev else None),
        "LOG_SIGNER_ROLE": log_signer or _account_of(settings.log_signer_key),
    }
    holders = {
        role: None if account is None else to_checksum_address(account)
        for role, account in holders.items()
    }
    if admin == deployer:
        check_separate_roles(holders, chain_id=settings.chain_id)
    else:
        # The authority grants the roles itself later; still, what was named must be apart.
        check_separate_roles(
            {role: account for role, account in holders.items() if account is not None},
            chain_id=settings.chain_id,
        )
    chain = ChainClient.connect(settings, private_key=key.get_secret_value())
    artifact = settings_artifact(settings)
    if predecessor is not None:
        old = AnchorClient(chain, predecessor, artifact=artifact)
        if not old.has_role("DEFAULT_ADMIN_ROLE", admin):
            # Verifiers follow a successor only if the predecessor's authority is its admin
            # (docs/spec.md §7.7): deployed otherwise it would anchor for nobody.
            raise DeploymentError(
                f"admin: got {admin}, which does not hold DEFAULT_ADMIN_ROLE on the "
                f"predecessor {predecessor}, want the predecessor's authority (--admin)"
            )
        if predecessor_index is None:
            latest = old.latest_checkpoint()
            if latest is None:
                raise DeploymentError(
                    f"predecessor {predecessor}: got no checkpoint, want one to start from"
                )
            predecessor_index = latest.index
    deployment = deploy_contract(
        chain,
        admin=admin,
        admin_delay_s=admin_delay_s,
        predecessor=predecessor,
        predecessor_index=predecessor_index or 0,
        artifact=artifact,
    )
    granted: dict[str, str] = {}
    if admin == chain.address:
        contract = AnchorClient(chain, deployment.address, artifact=artifact)
        roles: tuple[RoleName, ...] = ("ANCHORER_ROLE", "ISSUER_ADMIN_ROLE", "LOG_SIGNER_ROLE")
        for role in roles:
            account = holders[role]
            if account is not None:
                contract.grant_role(role, account)
                granted[role] = account
    path = output or settings.deployment_file
    deployment.save(path)
    return DeployOutcome(deployment=deployment, path=path, granted=granted)
