"""An RFC 6962 Merkle tree: tree heads and inclusion proofs, as Rekor v1 computes them."""

from __future__ import annotations

import hashlib


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two strictly below ``size`` (``size`` >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


class MerkleTree:
    """An append-only list of leaf hashes with RFC 6962 root and inclusion proofs."""

    def __init__(self) -> None:
        self._leaves: list[bytes] = []
        # Complete power-of-two subtrees never change once filled: memoising them
        # keeps each root or proof O(log n) hashes instead of O(n).
        self._complete: dict[tuple[int, int], bytes] = {}

    def __len__(self) -> int:
        return len(self._leaves)

    def append(self, leaf: bytes) -> int:
        """Add a leaf hash; return its index."""
        self._leaves.append(leaf)
        return len(self._leaves) - 1

    def _hash(self, start: int, size: int) -> bytes:
        if size == 1:
            return self._leaves[start]
        cacheable = size & (size - 1) == 0
        if cacheable and (start, size) in self._complete:
            return self._complete[(start, size)]
        k = _split(size)
        result = node_hash(self._hash(start, k), self._hash(start + k, size - k))
        if cacheable:
            self._complete[(start, size)] = result
        return result

    def root(self, size: int | None = None) -> bytes:
        """The tree head (MTH) over the first ``size`` leaves (default: all)."""
        size = len(self._leaves) if size is None else size
        if size == 0:
            return hashlib.sha256(b"").digest()
        return self._hash(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path PATH(index, D[0:size]) of RFC 6962 section 2.1.1, leaf side first."""
        size = len(self._leaves) if size is None else size
        if not 0 <= index < size <= len(self._leaves):
            raise IndexError(f"no leaf {index} in a tree of {size}")
        path: list[bytes] = []
        start = 0
        # Walk down from the root; each level contributes the sibling subtree's hash.
        while size > 1:
            k = _split(size)
            if index < k:
                path.append(self._hash(start + k, size - k))
                size = k
            else:
                path.append(self._hash(start, k))
                start, index, size = start + k, index - k, size - k
        path.reverse()
        return path
