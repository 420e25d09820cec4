// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ICertregAnchor} from "./ICertregAnchor.sol";
import {RFC6962} from "./RFC6962.sol";

/// @title certreg anchoring contract: log checkpoints and the issuer-key registry
/// @notice Accepts a checkpoint (log size, log root, status-map root) only with an RFC 9162
/// consistency proof from the latest one, so the anchored history can only be extended, never
/// rewritten. Also the registry of issuers' Ed25519 keys, so that a verifier needs nothing but
/// the chain. Roles: `DEFAULT_ADMIN_ROLE` (the authority) grants the others; `ANCHORER_ROLE`
/// anchors; `ISSUER_ADMIN_ROLE` registers and revokes issuer keys.
contract CertregAnchor is AccessControl, ICertregAnchor {
    /// @inheritdoc ICertregAnchor
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");
    /// @inheritdoc ICertregAnchor
    bytes32 public constant ISSUER_ADMIN_ROLE = keccak256("ISSUER_ADMIN_ROLE");

    // The three 64-bit fields share one slot: a checkpoint costs three fresh storage slots
    // instead of five, most of the gas of an anchor.
    struct Checkpoint {
        uint64 treeSize;
        uint64 blockNumber;
        uint64 timestamp;
        bytes32 logRoot;
        bytes32 mapRoot;
    }

    struct IssuerKey {
        bytes32 publicKey;
        uint64 validFrom;
        uint64 revokedAt;
    }

    Checkpoint[] private _checkpoints;
    mapping(bytes32 issuerId => mapping(bytes32 keyId => IssuerKey)) private _issuerKeys;

    /// @notice Deploy with `admin` as the authority (`DEFAULT_ADMIN_ROLE`), who grants the
    /// other roles.
    constructor(address admin) {
        if (admin == address(0)) {
            revert InvalidAdmin(admin);
        }
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc ICertregAnchor
    function anchor(
        uint64 treeSize,
        bytes32 logRoot,
        bytes32 mapRoot,
        bytes32[] calldata consistencyProof
    ) external onlyRole(ANCHORER_ROLE) {
        uint256 index = _checkpoints.length;
        if (index == 0) {
            if (treeSize == 0) {
                revert TreeSizeNotGrowing(treeSize, 0);
            }
            // Every tree extends the empty one; a proof here would be meaningless.
            if (consistencyProof.length != 0) {
                revert InvalidConsistencyProof(0, treeSize, consistencyProof.length);
            }
        } else {
            Checkpoint storage latest = _checkpoints[index - 1];
            uint64 latestSize = latest.treeSize;
            if (treeSize <= latestSize) {
                revert TreeSizeNotGrowing(treeSize, latestSize);
            }
            if (
                !RFC6962.verifyConsistency(
                    latestSize, treeSize, latest.logRoot, logRoot, consistencyProof
                )
            ) {
                revert InvalidConsistencyProof(latestSize, treeSize, consistencyProof.length);
            }
        }
        _checkpoints.push(
            Checkpoint({
                treeSize: treeSize,
                blockNumber: uint64(block.number),
                timestamp: uint64(block.timestamp),
                logRoot: logRoot,
                mapRoot: mapRoot
            })
        );
        emit CheckpointAnchored(index, treeSize, logRoot, mapRoot);
    }

    /// @inheritdoc ICertregAnchor
    function checkpointCount() external view returns (uint256) {
        return _checkpoints.length;
    }

    /// @inheritdoc ICertregAnchor
    function checkpoint(uint256 index)
        external
        view
        returns (
            uint64 treeSize,
            bytes32 logRoot,
            bytes32 mapRoot,
            uint64 blockNumber,
            uint64 timestamp
        )
    {
        if (index < _checkpoints.length) {
            Checkpoint storage c = _checkpoints[index];
            return (c.treeSize, c.logRoot, c.mapRoot, c.blockNumber, c.timestamp);
        }
    }

    /// @inheritdoc ICertregAnchor
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
        )
    {
        uint256 count = _checkpoints.length;
        if (count > 0) {
            Checkpoint storage c = _checkpoints[count - 1];
            return (count - 1, c.treeSize, c.logRoot, c.mapRoot, c.blockNumber, c.timestamp);
        }
    }

    /// @inheritdoc ICertregAnchor
    function verifyInclusion(
        uint64 leafIndex,
        uint64 treeSize,
        bytes32 leafHash,
        bytes32[] calldata proof,
        bytes32 root
    ) external pure returns (bool) {
        return RFC6962.verifyInclusion(leafIndex, treeSize, leafHash, proof, root);
    }

    /// @inheritdoc ICertregAnchor
    function verifyConsistency(
        uint64 size1,
        uint64 size2,
        bytes32 root1,
        bytes32 root2,
        bytes32[] calldata proof
    ) external pure returns (bool) {
        return RFC6962.verifyConsistency(size1, size2, root1, root2, proof);
    }

    /// @inheritdoc ICertregAnchor
    function registerIssuerKey(bytes32 issuerId, bytes32 publicKey, uint64 validFrom)
        external
        onlyRole(ISSUER_ADMIN_ROLE)
        returns (bytes32 keyId)
    {
        if (publicKey == bytes32(0)) {
            revert ZeroPublicKey(issuerId);
        }
        uint64 current = uint64(block.number);
        uint64 from = validFrom == 0 ? current : validFrom;
        if (from < current) {
            revert ValidFromInPast(validFrom, current);
        }
        keyId = sha256(abi.encodePacked(publicKey));
        IssuerKey storage key = _issuerKeys[issuerId][keyId];
        if (key.publicKey != bytes32(0)) {
            revert IssuerKeyAlreadyRegistered(issuerId, keyId);
        }
        key.publicKey = publicKey;
        key.validFrom = from;
        emit IssuerKeyRegistered(issuerId, keyId, publicKey, from);
    }

    /// @inheritdoc ICertregAnchor
    function revokeIssuerKey(bytes32 issuerId, bytes32 keyId, uint64 revokedAt)
        external
        onlyRole(ISSUER_ADMIN_ROLE)
    {
        IssuerKey storage key = _issuerKeys[issuerId][keyId];
        if (key.publicKey == bytes32(0)) {
            revert IssuerKeyNotRegistered(issuerId, keyId);
        }
        if (key.revokedAt != 0) {
            revert IssuerKeyAlreadyRevoked(issuerId, keyId, key.revokedAt);
        }
        uint64 effective = revokedAt == 0 ? uint64(block.number) : revokedAt;
        if (effective < key.validFrom) {
            revert RevokedBeforeValidFrom(effective, key.validFrom);
        }
        key.revokedAt = effective;
        emit IssuerKeyRevoked(issuerId, keyId, effective);
    }

    /// @inheritdoc ICertregAnchor
    function issuerKey(bytes32 issuerId, bytes32 keyId)
        external
        view
        returns (bytes32 publicKey, uint64 validFrom, uint64 revokedAt)
    {
        IssuerKey storage key = _issuerKeys[issuerId][keyId];
        return (key.publicKey, key.validFrom, key.revokedAt);
    }

    /// @inheritdoc ICertregAnchor
    function issuerKeyInForce(bytes32 issuerId, bytes32 keyId, uint64 blockNumber)
        external
        view
        returns (bool)
    {
        IssuerKey storage key = _issuerKeys[issuerId][keyId];
        return key.publicKey != bytes32(0) && key.validFrom <= blockNumber
            && (key.revokedAt == 0 || blockNumber < key.revokedAt);
    }
}
