// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC5267} from "@openzeppelin/contracts/interfaces/IERC5267.sol";
import {ICertregAnchor} from "./ICertregAnchor.sol";
import {RFC6962} from "./RFC6962.sol";

/// @title certreg anchoring contract: log checkpoints and the issuer-key registry
/// @notice Accepts a checkpoint (log size, log root, status-map root) only with an RFC 9162
/// consistency proof from the latest one, so the anchored history can only be extended, never
/// rewritten, and only with the log signer's EIP-712 authorisation of exactly that step, so
/// that the sending key alone anchors nothing (docs/spec.md §7.3). Also the registry of
/// issuers' Ed25519 keys, so that a verifier needs nothing but the chain. Roles:
/// `DEFAULT_ADMIN_ROLE` (the authority; one account, moved in two steps with a delay) grants
/// the others; `ANCHORER_ROLE` sends anchors; `LOG_SIGNER_ROLE` authorises them;
/// `ISSUER_ADMIN_ROLE` registers and revokes issuer keys.
contract CertregAnchor is AccessControlDefaultAdminRules, ICertregAnchor {
    /// @inheritdoc ICertregAnchor
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");
    /// @inheritdoc ICertregAnchor
    bytes32 public constant ISSUER_ADMIN_ROLE = keccak256("ISSUER_ADMIN_ROLE");
    /// @inheritdoc ICertregAnchor
    bytes32 public constant LOG_SIGNER_ROLE = keccak256("LOG_SIGNER_ROLE");

    // EIP-712 (docs/spec.md §7.3). The domain separator is computed per call from constants,
    // not cached in immutables as OpenZeppelin's `EIP712` does: immutables would make the
    // runtime code differ per chain and address, and clients and verifiers compare it byte for
    // byte with the artifact (§7.6); `EIP712` also pulls in code using `mcopy`, which the
    // London build (GoQuorum) cannot have. It costs a few hundred gas per anchor.
    bytes32 private constant _DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );
    string private constant _NAME = "CertregAnchor";
    string private constant _VERSION = "2";
    bytes32 private constant _CHECKPOINT_TYPEHASH = keccak256(
        "Checkpoint(uint64 previousTreeSize,bytes32 previousLogRoot,uint64 treeSize,"
        "bytes32 logRoot,bytes32 mapRoot)"
    );

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

    // Indexes go on counting across a succession (docs/spec.md §7.7): a successor holds the
    // checkpoint it starts from at that checkpoint's own index, and anchors after it.
    mapping(uint256 index => Checkpoint) private _checkpoints;
    uint256 private _checkpointCount;
    mapping(bytes32 issuerId => mapping(bytes32 keyId => IssuerKey)) private _issuerKeys;

    // The contract this one succeeds, and the block of this one's deployment: keys the
    // predecessor registered before it are this contract's too. Zero for a first contract.
    address private _predecessor;
    uint64 private _succeededAt;
    uint256 private _predecessorIndex;

    /// @notice Deploy with `admin` as the authority (`DEFAULT_ADMIN_ROLE`), who grants the
    /// other roles; handing the authority to another account takes two steps, `adminDelay`
    /// seconds apart (OpenZeppelin `AccessControlDefaultAdminRules`). A successor names its
    /// `predecessorContract` (zero for a first contract) and the index of the predecessor's
    /// checkpoint it starts from, read here from the predecessor itself: the first anchor must
    /// extend it (docs/spec.md §7.7).
    constructor(
        address admin,
        uint48 adminDelay,
        address predecessorContract,
        uint256 predecessorIndex
    ) AccessControlDefaultAdminRules(adminDelay, admin) {
        if (predecessorContract == address(0)) {
            if (predecessorIndex != 0) {
                revert InvalidPredecessor(predecessorContract, predecessorIndex);
            }
            return;
        }
        if (predecessorContract.code.length == 0) {
            revert InvalidPredecessor(predecessorContract, predecessorIndex);
        }
        (
            uint64 treeSize,
            bytes32 logRoot,
            bytes32 mapRoot,
            uint64 blockNumber,
            uint64 timestamp
        ) = ICertregAnchor(predecessorContract).checkpoint(predecessorIndex);
        if (treeSize == 0) {
            revert InvalidPredecessor(predecessorContract, predecessorIndex);
        }
        _predecessor = predecessorContract;
        _succeededAt = uint64(block.number);
        _predecessorIndex = predecessorIndex;
        // Kept as the predecessor anchored it, block and time included: to a reader it is
        // the latest checkpoint until this contract anchors one of its own.
        _checkpoints[predecessorIndex] = Checkpoint({
            treeSize: treeSize,
            blockNumber: blockNumber,
            timestamp: timestamp,
            logRoot: logRoot,
            mapRoot: mapRoot
        });
        _checkpointCount = predecessorIndex + 1;
    }

    /// @inheritdoc ICertregAnchor
    function anchor(
        uint64 treeSize,
        bytes32 logRoot,
        bytes32 mapRoot,
        bytes32[] calldata consistencyProof,
        bytes calldata authorisation
    ) external onlyRole(ANCHORER_ROLE) {
        uint256 index = _checkpointCount;
        uint64 latestSize;
        bytes32 latestRoot;
        if (index != 0) {
            // For a successor's first anchor, the checkpoint it starts from.
            Checkpoint storage latest = _checkpoints[index - 1];
            latestSize = latest.treeSize;
            latestRoot = latest.logRoot;
        }
        // First the signature: without the log signer's word nothing else is looked at.
        bytes32 digest =
            _checkpointDigest(latestSize, latestRoot, treeSize, logRoot, mapRoot);
        address signer = ECDSA.recoverCalldata(digest, authorisation);
        if (!hasRole(LOG_SIGNER_ROLE, signer)) {
            revert UnauthorisedLogSigner(signer, digest);
        }
        if (treeSize <= latestSize) {
            revert TreeSizeNotGrowing(treeSize, latestSize);
        }
        if (latestSize == 0) {
            // Every tree extends the empty one; a proof here would be meaningless.
            if (consistencyProof.length != 0) {
                revert InvalidConsistencyProof(0, treeSize, consistencyProof.length);
            }
        } else if (
            !RFC6962.verifyConsistency(latestSize, treeSize, latestRoot, logRoot, consistencyProof)
        ) {
            revert InvalidConsistencyProof(latestSize, treeSize, consistencyProof.length);
        }
        _checkpoints[index] = Checkpoint({
            treeSize: treeSize,
            blockNumber: uint64(block.number),
            timestamp: uint64(block.timestamp),
            logRoot: logRoot,
            mapRoot: mapRoot
        });
        _checkpointCount = index + 1;
        emit CheckpointAnchored(index, treeSize, logRoot, mapRoot);
    }

    /// @inheritdoc ICertregAnchor
    function checkpointDigest(
        uint64 previousTreeSize,
        bytes32 previousLogRoot,
        uint64 treeSize,
        bytes32 logRoot,
        bytes32 mapRoot
    ) external view returns (bytes32) {
        return _checkpointDigest(previousTreeSize, previousLogRoot, treeSize, logRoot, mapRoot);
    }

    /// @inheritdoc ICertregAnchor
    function predecessor()
        external
        view
        returns (
            address predecessorContract,
            uint256 predecessorIndex,
            uint64 treeSize,
            bytes32 logRoot,
            bytes32 mapRoot
        )
    {
        if (_predecessor != address(0)) {
            Checkpoint storage start = _checkpoints[_predecessorIndex];
            return (_predecessor, _predecessorIndex, start.treeSize, start.logRoot, start.mapRoot);
        }
    }

    /// @inheritdoc IERC5267
    function eip712Domain()
        external
        view
        returns (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        )
    {
        // name, version, chainId, verifyingContract (ERC-5267)
        return (hex"0f", _NAME, _VERSION, block.chainid, address(this), bytes32(0), extensions);
    }

    function _checkpointDigest(
        uint64 previousTreeSize,
        bytes32 previousLogRoot,
        uint64 treeSize,
        bytes32 logRoot,
        bytes32 mapRoot
    ) private view returns (bytes32) {
        bytes32 domain = keccak256(
            abi.encode(
                _DOMAIN_TYPEHASH,
                keccak256(bytes(_NAME)),
                keccak256(bytes(_VERSION)),
                block.chainid,
                address(this)
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                _CHECKPOINT_TYPEHASH, previousTreeSize, previousLogRoot, treeSize, logRoot, mapRoot
            )
        );
        // EIP-712's encoding, as OpenZeppelin's `MessageHashUtils.toTypedDataHash`; that library
        // is not imported: it pulls in code using `mcopy`, which the London build cannot have.
        return keccak256(abi.encodePacked(hex"1901", domain, structHash));
    }

    /// @inheritdoc ICertregAnchor
    function checkpointCount() external view returns (uint256) {
        return _checkpointCount;
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
        // Unused indexes, and a successor's indexes before the one it starts from, are zero.
        Checkpoint storage c = _checkpoints[index];
        return (c.treeSize, c.logRoot, c.mapRoot, c.blockNumber, c.timestamp);
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
        uint256 count = _checkpointCount;
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
        if (_resolvedKey(issuerId, keyId).publicKey != bytes32(0)) {
            revert IssuerKeyAlreadyRegistered(issuerId, keyId);
        }
        IssuerKey storage key = _issuerKeys[issuerId][keyId];
        key.publicKey = publicKey;
        key.validFrom = from;
        emit IssuerKeyRegistered(issuerId, keyId, publicKey, from);
    }

    /// @inheritdoc ICertregAnchor
    function revokeIssuerKey(bytes32 issuerId, bytes32 keyId, uint64 revokedAt)
        external
        onlyRole(ISSUER_ADMIN_ROLE)
    {
        IssuerKey memory key = _resolvedKey(issuerId, keyId);
        if (key.publicKey == bytes32(0)) {
            revert IssuerKeyNotRegistered(issuerId, keyId);
        }
        uint64 effective = revokedAt == 0 ? uint64(block.number) : revokedAt;
        // A revocation may move earlier (a compromise found out later than first thought),
        // never later: a signature once refused stays refused. A revocation dated in the future
        // therefore never blocks an earlier one.
        if (key.revokedAt != 0 && effective >= key.revokedAt) {
            revert IssuerKeyAlreadyRevoked(issuerId, keyId, key.revokedAt, effective);
        }
        if (effective < key.validFrom) {
            revert RevokedBeforeValidFrom(effective, key.validFrom);
        }
        key.revokedAt = effective;
        // A key the predecessor registered is revoked here, in this contract's own record.
        _issuerKeys[issuerId][keyId] = key;
        emit IssuerKeyRevoked(issuerId, keyId, effective);
    }

    /// @inheritdoc ICertregAnchor
    function issuerKey(bytes32 issuerId, bytes32 keyId)
        external
        view
        returns (bytes32 publicKey, uint64 validFrom, uint64 revokedAt)
    {
        IssuerKey memory key = _resolvedKey(issuerId, keyId);
        return (key.publicKey, key.validFrom, key.revokedAt);
    }

    /// @inheritdoc ICertregAnchor
    function issuerKeyInForce(bytes32 issuerId, bytes32 keyId, uint64 blockNumber)
        external
        view
        returns (bool)
    {
        IssuerKey memory key = _resolvedKey(issuerId, keyId);
        return key.publicKey != bytes32(0) && key.validFrom <= blockNumber
            && (key.revokedAt == 0 || blockNumber < key.revokedAt);
    }

    /// This contract's record of a key, else (a successor) its predecessor's, if the
    /// predecessor registered it before this contract was deployed: a key registered there
    /// later (by a holder of the old contract's role) is not this registry's.
    function _resolvedKey(bytes32 issuerId, bytes32 keyId)
        private
        view
        returns (IssuerKey memory key)
    {
        key = _issuerKeys[issuerId][keyId];
        if (key.publicKey != bytes32(0) || _predecessor == address(0)) {
            return key;
        }
        (bytes32 publicKey, uint64 validFrom, uint64 revokedAt) =
            ICertregAnchor(_predecessor).issuerKey(issuerId, keyId);
        if (publicKey != bytes32(0) && validFrom < _succeededAt) {
            key = IssuerKey({publicKey: publicKey, validFrom: validFrom, revokedAt: revokedAt});
        }
    }
}
