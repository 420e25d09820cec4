// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title RFC 6962 / RFC 9162 Merkle tree proof verification with SHA-256
/// @notice node = SHA-256(0x01 ‖ left ‖ right), computed by the SHA-256 precompile. Leaf hashes
/// (SHA-256(0x00 ‖ entry)) come from the caller. Both verifiers follow RFC 9162 §2.1.3.2 and
/// §2.1.4.2 step by step, with the same answers as the Python core (`registry.core.proofs`).
library RFC6962 {
    /// @notice Hash of an interior node from its two children.
    function hashChildren(bytes32 left, bytes32 right) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x01), left, right));
    }

    /// @notice Whether `proof` proves that `leafHash` is leaf `leafIndex` of the tree of
    /// `treeSize` leaves whose root is `root` (RFC 9162 §2.1.3.2).
    function verifyInclusion(
        uint64 leafIndex,
        uint64 treeSize,
        bytes32 leafHash,
        bytes32[] calldata proof,
        bytes32 root
    ) internal pure returns (bool) {
        if (leafIndex >= treeSize) {
            return false;
        }
        uint256 fn = leafIndex;
        uint256 sn = treeSize - 1;
        bytes32 r = leafHash;
        for (uint256 i = 0; i < proof.length; ++i) {
            // A proof longer than the path from the leaf to the root.
            if (sn == 0) {
                return false;
            }
            if (fn & 1 == 1 || fn == sn) {
                r = hashChildren(proof[i], r);
                // Skip the levels where this node is a right-edge node with no sibling.
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                r = hashChildren(r, proof[i]);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && r == root;
    }

    /// @notice Whether `proof` proves that the tree of `size2` leaves with root `root2` extends
    /// the tree of `size1` leaves with root `root1` (RFC 9162 §2.1.4.2).
    /// @dev `size1` 0 never verifies: RFC 9162 defines no proof from the empty tree (the
    /// contract handles its first checkpoint on its own). Equal sizes verify with an empty
    /// proof and equal roots.
    function verifyConsistency(
        uint64 size1,
        uint64 size2,
        bytes32 root1,
        bytes32 root2,
        bytes32[] calldata proof
    ) internal pure returns (bool) {
        if (size1 == 0 || size2 < size1) {
            return false;
        }
        if (size1 == size2) {
            return proof.length == 0 && root1 == root2;
        }
        if (proof.length == 0) {
            return false;
        }
        // Step 2 prepends root1 to the path when size1 is a power of two: start from root1
        // at path position -1 instead of copying the calldata array.
        uint256 next;
        bytes32 fr;
        if (size1 & (size1 - 1) == 0) {
            fr = root1;
        } else {
            fr = proof[0];
            next = 1;
        }
        bytes32 sr = fr;
        uint256 fn = size1 - 1;
        uint256 sn = size2 - 1;
        while (fn & 1 == 1) {
            fn >>= 1;
            sn >>= 1;
        }
        for (uint256 i = next; i < proof.length; ++i) {
            // Trailing elements beyond the path to the new root.
            if (sn == 0) {
                return false;
            }
            bytes32 c = proof[i];
            if (fn & 1 == 1 || fn == sn) {
                fr = hashChildren(c, fr);
                sr = hashChildren(c, sr);
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                sr = hashChildren(sr, c);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return fr == root1 && sr == root2 && sn == 0;
    }
}
