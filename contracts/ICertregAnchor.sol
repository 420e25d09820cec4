// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC5267} from "@openzeppelin/contracts/interfaces/IERC5267.sol";
import {ICertregAnchorErrors} from "./ICertregAnchorErrors.sol";

/// @title The certreg anchoring contract's public interface
/// @notice Checkpoints of an RFC 6962 / RFC 9162 log (tree size, log root, status-map root),
/// each proven on chain to extend the previous one, and the registry of issuers' Ed25519
/// signing keys. Issuer ids are SHA-256(UTF-8 issuer id); key ids are SHA-256(raw 32-byte
/// Ed25519 public key). Block numbers say when a key is in force: on blocks
/// `validFrom <= b < revokedAt` (or from `validFrom` on while `revokedAt` is 0).
/// The functions down to `issuerKey` are the stable interface of docs/spec.md §7.1 that
/// independent verifiers rely on; they never change.
interface ICertregAnchor is ICertregAnchorErrors, IERC5267 {
    /// @notice A checkpoint was anchored at position `index`.
    event CheckpointAnchored(
        uint256 indexed index, uint64 indexed treeSize, bytes32 indexed logRoot, bytes32 mapRoot
    );

    /// @notice `publicKey` (key id `keyId`) was registered for `issuerId`, valid from block
    /// `validFrom`.
    event IssuerKeyRegistered(
        bytes32 indexed issuerId, bytes32 indexed keyId, bytes32 publicKey, uint64 validFrom
    );

    /// @notice The key `keyId` of `issuerId` is revoked from block `revokedAt` on. Emitted
    /// again, with the earlier block, when a revocation is moved earlier.
    event IssuerKeyRevoked(bytes32 indexed issuerId, bytes32 indexed keyId, uint64 revokedAt);

    /// @notice The role allowed to call `anchor` (the registry's sending account).
    function ANCHORER_ROLE() external view returns (bytes32);

    /// @notice The role whose EIP-712 signature `anchor` needs (the registry's log signer,
    /// kept apart from the sending account).
    function LOG_SIGNER_ROLE() external view returns (bytes32);

    /// @notice The role allowed to register and revoke issuer keys.
    function ISSUER_ADMIN_ROLE() external view returns (bytes32);

    /// @notice Anchor a checkpoint that extends the latest one, as the log signer authorised.
    /// @dev Reverts with `AccessControlUnauthorizedAccount` unless the caller holds
    /// `ANCHORER_ROLE`; with OpenZeppelin's `ECDSAInvalidSignature`,
    /// `ECDSAInvalidSignatureLength` or `ECDSAInvalidSignatureS` for a malformed
    /// `authorisation`, and `UnauthorisedLogSigner` unless it is the EIP-712 signature, by an
    /// account holding `LOG_SIGNER_ROLE`, of `Checkpoint(previousTreeSize, previousLogRoot,
    /// treeSize, logRoot, mapRoot)` with the latest checkpoint's size and root as the previous
    /// ones (before the first: those of the checkpoint `predecessor` names, or 0 and zero bytes
    /// for a first contract; see `checkpointDigest`); then
    /// `TreeSizeNotGrowing` unless `treeSize` exceeds the latest tree size, and
    /// `InvalidConsistencyProof` unless `consistencyProof` is the RFC 9162 consistency proof
    /// from the latest checkpoint (before the first: the predecessor's checkpoint this contract
    /// starts from) to (`treeSize`, `logRoot`). The first checkpoint of a first contract
    /// extends the empty log, for which no proof exists: it needs an empty proof.
    /// @param treeSize Number of entries in the log.
    /// @param logRoot RFC 6962 root hash of the log at `treeSize`.
    /// @param mapRoot Root of the status map derived from the log's first `treeSize` entries.
    /// @param consistencyProof RFC 9162 §2.1.4 consistency proof from the latest checkpoint.
    /// @param authorisation 65-byte secp256k1 signature (r ‖ s ‖ v) of the checkpoint digest.
    function anchor(
        uint64 treeSize,
        bytes32 logRoot,
        bytes32 mapRoot,
        bytes32[] calldata consistencyProof,
        bytes calldata authorisation
    ) external;

    /// @notice The contract this one succeeds and the checkpoint of it (at `predecessorIndex`,
    /// read from the predecessor at deployment) that this one starts from: its first anchor
    /// must extend that checkpoint. All zero for a first contract (docs/spec.md §7.7).
    function predecessor()
        external
        view
        returns (
            address predecessorContract,
            uint256 predecessorIndex,
            uint64 treeSize,
            bytes32 logRoot,
            bytes32 mapRoot
        );

    /// @notice The EIP-712 digest a log signer signs to authorise anchoring (`treeSize`,
    /// `logRoot`, `mapRoot`) on top of the checkpoint (`previousTreeSize`,
    /// `previousLogRoot`), in this contract's domain (name "CertregAnchor", version "2", this
    /// chain's id, this contract's address).
    function checkpointDigest(
        uint64 previousTreeSize,
        bytes32 previousLogRoot,
        uint64 treeSize,
        bytes32 logRoot,
        bytes32 mapRoot
    ) external view returns (bytes32);

    /// @notice The index the next checkpoint will take: the number of checkpoints anchored
    /// here, and for a successor those of the predecessors up to the one it starts from
    /// (indexes go on counting across a succession, docs/spec.md §7.7).
    function checkpointCount() external view returns (uint256);

    /// @notice The checkpoint at position `index` (0-based); all zero if there is none here: an
    /// index not used yet, or (a successor) one before the checkpoint it starts from, which its
    /// predecessor holds. The checkpoint a successor starts from is answered at its own index,
    /// with the block and time at which the predecessor anchored it.
    /// @return treeSize Log size; 0 only for a checkpoint that does not exist.
    /// @return logRoot Log root hash.
    /// @return mapRoot Status-map root hash.
    /// @return blockNumber Block in which it was anchored.
    /// @return timestamp That block's timestamp (seconds since the Unix epoch).
    function checkpoint(uint256 index)
        external
        view
        returns (
            uint64 treeSize,
            bytes32 logRoot,
            bytes32 mapRoot,
            uint64 blockNumber,
            uint64 timestamp
        );

    /// @notice The key `keyId` of issuer `issuerId`; all zero for an unknown key. A successor
    /// answers its own record, else its predecessor's for a key registered there before the
    /// successor was deployed (so a revocation recorded here overrides the predecessor's).
    /// @return publicKey Raw 32-byte Ed25519 public key.
    /// @return validFrom First block on which the key is in force.
    /// @return revokedAt First block on which it no longer is; 0 while it is in force.
    function issuerKey(bytes32 issuerId, bytes32 keyId)
        external
        view
        returns (bytes32 publicKey, uint64 validFrom, uint64 revokedAt);

    /// @notice The latest checkpoint and its position; all zero before the first one. For a
    /// successor that has not anchored yet: the checkpoint it starts from.
    function latestCheckpoint()
        external
        view
        returns (
            uint256 index,
            uint64 treeSize,
            bytes32 logRoot,
            bytes32 mapRoot,
            uint64 blockNumber,
            uint64 timestamp
        );

    /// @notice Whether `proof` is the RFC 9162 §2.1.3 inclusion proof of the leaf with hash
    /// `leafHash` at `leafIndex` (0-based) in the tree of `treeSize` leaves with root `root`.
    /// Returns false, never reverts, for any proof that does not verify.
    function verifyInclusion(
        uint64 leafIndex,
        uint64 treeSize,
        bytes32 leafHash,
        bytes32[] calldata proof,
        bytes32 root
    ) external pure returns (bool);

    /// @notice Whether `proof` is the RFC 9162 §2.1.4 consistency proof between the tree of
    /// `size1` leaves with root `root1` and that of `size2` leaves with root `root2`.
    /// @dev As the core's verifier: `size1` 0 never verifies (RFC 9162 defines no proof from
    /// the empty tree); equal sizes verify with an empty proof and equal roots.
    function verifyConsistency(
        uint64 size1,
        uint64 size2,
        bytes32 root1,
        bytes32 root2,
        bytes32[] calldata proof
    ) external pure returns (bool);

    /// @notice Register `publicKey` for `issuerId`, in force from block `validFrom` on.
    /// @dev Only `ISSUER_ADMIN_ROLE`. `validFrom` 0 means the block of this transaction; an
    /// earlier block reverts with `ValidFromInPast`. The key id is computed here, as
    /// SHA-256(publicKey), so that it always matches the key.
    /// @return keyId SHA-256 of `publicKey`.
    function registerIssuerKey(bytes32 issuerId, bytes32 publicKey, uint64 validFrom)
        external
        returns (bytes32 keyId);

    /// @notice Revoke the key `keyId` of `issuerId` from block `revokedAt` on.
    /// @dev Only `ISSUER_ADMIN_ROLE`. `revokedAt` 0 means the block of this transaction. An
    /// earlier block is allowed — a key compromise is usually found out after the fact — and
    /// the revocation's own block stays visible in its event. Not before `validFrom`. A key
    /// already revoked may be revoked again from an earlier block (never a later or the same
    /// one: `IssuerKeyAlreadyRevoked`), so a revocation dated in the future never blocks an
    /// earlier one.
    function revokeIssuerKey(bytes32 issuerId, bytes32 keyId, uint64 revokedAt) external;

    /// @notice Whether the key `keyId` of `issuerId` is in force on block `blockNumber`.
    function issuerKeyInForce(bytes32 issuerId, bytes32 keyId, uint64 blockNumber)
        external
        view
        returns (bool);
}
