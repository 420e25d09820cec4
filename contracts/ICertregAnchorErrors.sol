// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Custom errors of the certreg anchoring contract
/// @notice Every revert of `CertregAnchor` other than OpenZeppelin's access-control and ECDSA
/// errors is one of these. Each carries the values it judged, so that a client can say
/// "got X, want Y".
interface ICertregAnchorErrors {
    /// @notice The constructor's predecessor is not a contract holding a checkpoint at
    /// `index` (or a first contract was given an index).
    error InvalidPredecessor(address predecessor, uint256 index);

    /// @notice The authorisation of `anchor` recovers to `signer`, which does not hold
    /// `LOG_SIGNER_ROLE`: it was signed by another key, or over another checkpoint, another
    /// previous checkpoint (an old authorisation replayed), another chain or another contract.
    /// `digest` is what the contract expected signed.
    error UnauthorisedLogSigner(address signer, bytes32 digest);

    /// @notice `anchor` was called with a tree size that does not exceed the latest anchored
    /// one (0 before the first checkpoint).
    error TreeSizeNotGrowing(uint64 treeSize, uint64 latestTreeSize);

    /// @notice The consistency proof does not show that the new log root extends the latest
    /// anchored one (for the first checkpoint: the proof is not empty).
    error InvalidConsistencyProof(uint64 fromSize, uint64 treeSize, uint256 proofLength);

    /// @notice An issuer key was given as 32 zero bytes; zero is how `issuerKey` says "unknown".
    error ZeroPublicKey(bytes32 issuerId);

    /// @notice A key would be valid from a block that is already mined; registration may not
    /// bless signatures retroactively.
    error ValidFromInPast(uint64 validFrom, uint64 currentBlock);

    /// @notice This key is already registered for this issuer (revoked keys stay revoked).
    error IssuerKeyAlreadyRegistered(bytes32 issuerId, bytes32 keyId);

    /// @notice No such key is registered for this issuer.
    error IssuerKeyNotRegistered(bytes32 issuerId, bytes32 keyId);

    /// @notice The key is already revoked, at block `revokedAt`, no later than the block
    /// `requested`: a revocation may only move earlier.
    error IssuerKeyAlreadyRevoked(
        bytes32 issuerId, bytes32 keyId, uint64 revokedAt, uint64 requested
    );

    /// @notice A revocation block before the key's valid-from block.
    error RevokedBeforeValidFrom(uint64 revokedAt, uint64 validFrom);
}
