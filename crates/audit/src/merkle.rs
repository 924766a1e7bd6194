//! The RFC 6962 Merkle tree over the event hashes, its proofs and their
//! verification.
//!
//! Leaf `i` (0-based) is event `i + 1`; its leaf hash is
//! `SHA-256(0x00 || event.hash)` and an interior node is
//! `SHA-256(0x01 || left || right)`, split as RFC 6962 §2.1 says (the left
//! subtree holds the largest power of two strictly smaller than the size).
//! Proofs are generated with the RFC 6962 §2.1.1 and §2.1.2 algorithms and
//! verified with the RFC 9162 §2.1.3.2 and §2.1.4.2 algorithms.
//!
//! Scale: a proof or a root never walks the leaves. It reads only the roots
//! of *perfect* subtrees (aligned blocks of 2^level leaves) through
//! [`NodeSource`], at most O(log² n) of them. Such a node never changes once
//! its last leaf is appended, so the store persists each one as it is
//! completed ([`Frontier::push_with`] says which), or keeps a [`MerkleLog`]
//! in memory rebuilt from the event hashes.
//!
//! Invariant: [`verify_inclusion`] and [`verify_consistency`] accept a proof
//! only if it leads exactly to the given root(s) with nothing left over.

use sha2::{Digest, Sha256};

use crate::Hash;

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// RFC 6962 leaf hash of arbitrary leaf data: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// RFC 6962 interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Why a root or proof cannot be produced.
#[derive(Debug, thiserror::Error)]
pub enum MerkleError {
    /// The leaf asked for is past the end of the tree.
    #[error("leaf {index} is not in a tree of {size} leaves")]
    LeafOutOfRange {
        /// The 0-based leaf index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof from a larger tree to a smaller one.
    #[error("a tree of {old} leaves cannot be a prefix of a tree of {new} leaves")]
    SizesOutOfOrder {
        /// The older size.
        old: u64,
        /// The newer size.
        new: u64,
    },
    /// The tree asked for is larger than the log.
    #[error("the log has {available} leaves; a tree of {requested} was asked for")]
    TreeTooLarge {
        /// The size asked for.
        requested: u64,
        /// The size available.
        available: u64,
    },
    /// The node store failed or lacks a node it should have.
    #[error("the Merkle node store failed")]
    Source(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf {index} is not in a tree of {size} leaves")]
    LeafOutOfRange {
        /// The 0-based leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The old size is larger than the new one.
    #[error("a tree of {old} leaves cannot be a prefix of a tree of {new} leaves")]
    SizesOutOfOrder {
        /// The older size.
        old: u64,
        /// The newer size.
        new: u64,
    },
    /// The proof has too many or too few hashes for the sizes.
    #[error("the proof has the wrong number of hashes for these tree sizes")]
    WrongLength,
    /// The proof leads somewhere else.
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
}

/// Read access to the roots of perfect subtrees.
///
/// `node(level, index)` is the root of the subtree over leaves
/// `[index * 2^level, (index + 1) * 2^level)`; level 0 is the leaf hash
/// `SHA-256(0x00 || event hash)`. Only nodes whose leaves all exist are asked
/// for. A store implements it over a table `(level, index) -> hash` filled
/// from [`Frontier::push_with`] in the transaction that appends the event.
pub trait NodeSource {
    /// The store's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The number of leaves available.
    fn size(&self) -> Result<u64, Self::Error>;

    /// The root of a perfect subtree, as described above.
    fn node(&self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

fn source_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> MerkleError {
    MerkleError::Source(Box::new(e))
}

/// The largest power of two strictly smaller than `n` (for `n >= 2`).
fn split_point(n: u64) -> u64 {
    1u64 << (n - 1).ilog2()
}

/// The root of the leaves `[start, end)`, where `start` is a multiple of a
/// power of two at least `end - start` (true of every range the RFC 6962
/// recursion visits), so the range is a run of perfect subtrees of
/// decreasing size folded from the right.
fn range_root<S: NodeSource + ?Sized>(src: &S, start: u64, end: u64) -> Result<Hash, MerkleError> {
    let mut peaks: Vec<Hash> = Vec::with_capacity(64);
    let mut pos = start;
    while pos < end {
        let remaining = end - pos;
        let level = pos.trailing_zeros().min(remaining.ilog2());
        peaks.push(src.node(level, pos >> level).map_err(source_err)?);
        pos += 1u64 << level;
    }
    let mut iter = peaks.into_iter().rev();
    let Some(mut acc) = iter.next() else {
        return Ok(empty_root());
    };
    for left in iter {
        acc = node_hash(&left, &acc);
    }
    Ok(acc)
}

fn check_size<S: NodeSource + ?Sized>(src: &S, size: u64) -> Result<(), MerkleError> {
    let available = src.size().map_err(source_err)?;
    if size > available {
        return Err(MerkleError::TreeTooLarge {
            requested: size,
            available,
        });
    }
    Ok(())
}

/// The root of the tree over the first `size` leaves (RFC 6962 `MTH`).
pub fn root<S: NodeSource + ?Sized>(src: &S, size: u64) -> Result<Hash, MerkleError> {
    check_size(src, size)?;
    range_root(src, 0, size)
}

/// The audit path of leaf `index` in the tree of `size` leaves
/// (RFC 6962 §2.1.1 `PATH`), from the leaf's sibling up to the root's child.
pub fn inclusion_proof<S: NodeSource + ?Sized>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, MerkleError> {
    if index >= size {
        return Err(MerkleError::LeafOutOfRange { index, size });
    }
    check_size(src, size)?;
    let mut path = Vec::with_capacity(64);
    let (mut start, mut end) = (0u64, size);
    while end - start > 1 {
        let k = split_point(end - start);
        if index < start + k {
            path.push(range_root(src, start + k, end)?);
            end = start + k;
        } else {
            path.push(range_root(src, start, start + k)?);
            start += k;
        }
    }
    path.reverse();
    Ok(path)
}

/// The proof that the tree of `old` leaves is a prefix of the tree of `new`
/// leaves (RFC 6962 §2.1.2 `PROOF`). Empty when `old` is 0 or `old == new`.
pub fn consistency_proof<S: NodeSource + ?Sized>(
    src: &S,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, MerkleError> {
    if old > new {
        return Err(MerkleError::SizesOutOfOrder { old, new });
    }
    check_size(src, new)?;
    let mut proof = Vec::with_capacity(64);
    if old == 0 || old == new {
        return Ok(proof);
    }
    let (mut start, mut end) = (0u64, new);
    let mut whole = true;
    loop {
        if old == end {
            if !whole {
                proof.push(range_root(src, start, end)?);
            }
            break;
        }
        let k = split_point(end - start);
        if old - start <= k {
            proof.push(range_root(src, start + k, end)?);
            end = start + k;
        } else {
            proof.push(range_root(src, start, start + k)?);
            start += k;
            whole = false;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// Verifies that `leaf` (a leaf hash, see [`leaf_hash`]) is leaf `index` of
/// the tree of `size` leaves whose root is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::LeafOutOfRange { index, size });
    }
    let mut r = *leaf;
    walk_proof(index, size - 1, proof, |p, on_left| {
        r = if on_left {
            node_hash(p, &r)
        } else {
            node_hash(&r, p)
        };
    })?;
    if &r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The walk up the tree that both proof verifications share (RFC 9162
/// §2.1.3.2 and §2.1.4.2): from node `fnode` of the last level's `snode`,
/// hands each proof hash to `step` with whether it joins on the left, and
/// refuses a proof longer or shorter than the path to the root.
fn walk_proof(
    mut fnode: u64,
    mut snode: u64,
    proof: &[Hash],
    mut step: impl FnMut(&Hash, bool),
) -> Result<(), ProofError> {
    for p in proof {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            step(p, true);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            step(p, false);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    Ok(())
}

/// Verifies that the tree of `old` leaves with root `old_root` is a prefix
/// of the tree of `new` leaves with root `new_root` (RFC 9162 §2.1.4.2).
/// An empty old tree is a prefix of every tree (the proof must be empty).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::SizesOutOfOrder { old, new });
    }
    if old == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        if old_root != &empty_root() {
            return Err(ProofError::RootMismatch);
        }
        return Ok(());
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        if old_root != new_root {
            return Err(ProofError::RootMismatch);
        }
        return Ok(());
    }
    let (first, rest): (Hash, &[Hash]) = if old.is_power_of_two() {
        (*old_root, proof)
    } else {
        match proof.split_first() {
            Some((f, rest)) => (*f, rest),
            None => return Err(ProofError::WrongLength),
        }
    };
    let (mut fnode, mut snode) = (old - 1, new - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (first, first);
    walk_proof(fnode, snode, rest, |c, on_left| {
        if on_left {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
        } else {
            sr = node_hash(&sr, c);
        }
    })?;
    if &fr != old_root || &sr != new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The right edge of the tree: the roots of the perfect subtrees that make
/// up the first `size` leaves, largest first (one per set bit of `size`).
///
/// It is all a streaming verifier keeps (O(log n) hashes), and it tells an
/// appender which nodes each new leaf completes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    peaks: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The frontier of the first `size` leaves, read from a node store (to
    /// resume appending after a restart).
    pub fn from_source<S: NodeSource + ?Sized>(src: &S, size: u64) -> Result<Self, MerkleError> {
        check_size(src, size)?;
        let mut peaks = Vec::with_capacity(64);
        let mut pos = 0u64;
        for level in (0..64u32).rev() {
            if size & (1u64 << level) != 0 {
                peaks.push(src.node(level, pos >> level).map_err(source_err)?);
                pos += 1u64 << level;
            }
        }
        Ok(Self { size, peaks })
    }

    /// The frontier of `size` leaves from its perfect-subtree roots, largest
    /// (leftmost) first; `None` unless there is exactly one per set bit of
    /// `size`.
    pub fn from_peaks(size: u64, peaks: Vec<Hash>) -> Option<Self> {
        (usize::try_from(size.count_ones()).ok()? == peaks.len()).then_some(Self { size, peaks })
    }

    /// The perfect-subtree roots, largest (leftmost) first.
    pub fn peaks(&self) -> &[Hash] {
        &self.peaks
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root of the tree so far.
    pub fn root(&self) -> Hash {
        let mut iter = self.peaks.iter().rev();
        let Some(mut acc) = iter.next().copied() else {
            return empty_root();
        };
        for left in iter {
            acc = node_hash(left, &acc);
        }
        acc
    }

    /// Appends the leaf for an event hash.
    pub fn push(&mut self, event_hash: &Hash) {
        self.push_with(event_hash, |_, _, _| ());
    }

    /// Appends the leaf for an event hash and calls `completed(level, index,
    /// hash)` for every perfect-subtree node it completes, the leaf itself
    /// (level 0) first: about two nodes per leaf on average. A store that
    /// persists these serves every proof through [`NodeSource`].
    pub fn push_with(&mut self, event_hash: &Hash, mut completed: impl FnMut(u32, u64, &Hash)) {
        let index = self.size;
        let mut h = leaf_hash(event_hash);
        completed(0, index, &h);
        let mut level = 0u32;
        while index & (1u64 << level) != 0 {
            let Some(left) = self.peaks.pop() else {
                break;
            };
            h = node_hash(&left, &h);
            level += 1;
            completed(level, index >> level, &h);
        }
        self.peaks.push(h);
        self.size += 1;
    }
}

/// The whole tree in memory: every perfect-subtree node, level by level
/// (about 64 bytes per event: 640 MB for 10 million events). Rebuilt from
/// the event hashes on start, or used by tests and the offline tools.
#[derive(Clone, Debug, Default)]
pub struct MerkleLog {
    /// `levels[l][i]` is `NodeSource::node(l, i)`.
    levels: Vec<Vec<Hash>>,
}

impl MerkleLog {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree over these event hashes, in order.
    pub fn from_event_hashes<'a>(hashes: impl IntoIterator<Item = &'a Hash>) -> Self {
        let mut log = Self::new();
        for h in hashes {
            log.push(h);
        }
        log
    }

    /// Appends the leaf for an event hash; returns its 0-based index.
    pub fn push(&mut self, event_hash: &Hash) -> u64 {
        let mut h = leaf_hash(event_hash);
        let mut level = 0usize;
        loop {
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            let Some(nodes) = self.levels.get_mut(level) else {
                break;
            };
            nodes.push(h);
            if nodes.len() % 2 == 1 {
                break;
            }
            let (Some(right), Some(left)) = (nodes.last(), nodes.iter().rev().nth(1)) else {
                break;
            };
            h = node_hash(left, right);
            level += 1;
        }
        self.size() - 1
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// The root over all leaves.
    pub fn root(&self) -> Hash {
        range_root(self, 0, self.size()).unwrap_or_else(|_| empty_root())
    }
}

/// A node a [`MerkleLog`] does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no Merkle node at level {level}, index {index}")]
pub struct MissingNode {
    /// The level asked for.
    pub level: u32,
    /// The index asked for.
    pub index: u64,
}

impl NodeSource for MerkleLog {
    type Error = MissingNode;

    fn size(&self) -> Result<u64, MissingNode> {
        Ok(MerkleLog::size(self))
    }

    fn node(&self, level: u32, index: u64) -> Result<Hash, MissingNode> {
        usize::try_from(level)
            .ok()
            .and_then(|l| self.levels.get(l))
            .and_then(|nodes| nodes.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or(MissingNode { level, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> Hash {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).unwrap();
        out
    }

    /// Leaves and roots from the Certificate Transparency test data.
    const CT_LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const CT_ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    /// A `MerkleLog` over raw leaf data (the CT vectors hash data, not event
    /// hashes), built by pushing leaf hashes directly.
    struct RawTree(Vec<Vec<Hash>>);

    impl RawTree {
        fn new(leaves: &[Hash]) -> Self {
            let mut levels = vec![leaves.to_vec()];
            while levels.last().unwrap().len() > 1 {
                let next = levels
                    .last()
                    .unwrap()
                    .chunks_exact(2)
                    .map(|p| node_hash(&p[0], &p[1]))
                    .collect();
                levels.push(next);
            }
            Self(levels)
        }
    }

    impl NodeSource for RawTree {
        type Error = MissingNode;
        fn size(&self) -> Result<u64, MissingNode> {
            Ok(self.0[0].len() as u64)
        }
        fn node(&self, level: u32, index: u64) -> Result<Hash, MissingNode> {
            self.0
                .get(level as usize)
                .and_then(|l| l.get(index as usize))
                .copied()
                .ok_or(MissingNode { level, index })
        }
    }

    fn ct_tree() -> RawTree {
        let leaves: Vec<Hash> = CT_LEAVES
            .iter()
            .map(|l| leaf_hash(&hex::decode(l).unwrap()))
            .collect();
        RawTree::new(&leaves)
    }

    #[test]
    fn ct_roots() {
        let t = ct_tree();
        assert_eq!(
            root(&t, 0).unwrap(),
            h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        for (n, want) in CT_ROOTS.iter().enumerate() {
            assert_eq!(root(&t, n as u64 + 1).unwrap(), h(want), "size {}", n + 1);
        }
    }

    #[test]
    fn ct_inclusion_proofs() {
        let t = ct_tree();
        let cases: [(u64, u64, &[&str]); 4] = [
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                3,
                &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
            ),
            (
                1,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (index, size, want) in cases {
            let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
            assert_eq!(
                inclusion_proof(&t, index, size).unwrap(),
                want,
                "{index}/{size}"
            );
            let leaf = t.node(0, index).unwrap();
            let r = root(&t, size).unwrap();
            verify_inclusion(&leaf, index, size, &want, &r).unwrap();
        }
        assert!(inclusion_proof(&t, 0, 1).unwrap().is_empty());
    }

    #[test]
    fn ct_consistency_proofs() {
        let t = ct_tree();
        let cases: [(u64, u64, &[&str]); 4] = [
            (1, 1, &[]),
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (old, new, want) in cases {
            let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
            assert_eq!(
                consistency_proof(&t, old, new).unwrap(),
                want,
                "{old}->{new}"
            );
            let (r1, r2) = (root(&t, old).unwrap(), root(&t, new).unwrap());
            verify_consistency(old, new, &r1, &r2, &want).unwrap();
        }
    }

    #[test]
    fn degenerate_consistency_cases() {
        let t = ct_tree();
        let r4 = root(&t, 4).unwrap();
        let r5 = root(&t, 5).unwrap();
        verify_consistency(4, 4, &r4, &r4, &[]).unwrap();
        assert!(verify_consistency(4, 4, &r4, &r5, &[]).is_err());
        assert!(verify_consistency(4, 4, &r4, &r4, &[r4]).is_err());
        verify_consistency(0, 5, &empty_root(), &r5, &[]).unwrap();
        assert!(verify_consistency(0, 5, &r4, &r5, &[]).is_err());
        assert!(verify_consistency(5, 4, &r5, &r4, &[]).is_err());
        assert!(verify_consistency(3, 5, &root(&t, 3).unwrap(), &r5, &[]).is_err());
        assert!(matches!(
            consistency_proof(&t, 5, 4),
            Err(MerkleError::SizesOutOfOrder { .. })
        ));
        assert!(matches!(
            consistency_proof(&t, 1, 9),
            Err(MerkleError::TreeTooLarge { .. })
        ));
        assert!(matches!(
            inclusion_proof(&t, 8, 8),
            Err(MerkleError::LeafOutOfRange { .. })
        ));
        assert!(verify_inclusion(&r4, 8, 8, &[], &r4).is_err());
    }

    fn event_hashes(n: u64) -> Vec<Hash> {
        (0..n)
            .map(|i| Sha256::digest(i.to_be_bytes()).into())
            .collect()
    }

    #[test]
    fn memory_log_frontier_and_naive_roots_agree() {
        fn naive(leaves: &[Hash]) -> Hash {
            match leaves.len() {
                0 => empty_root(),
                1 => leaves[0],
                n => {
                    let k = split_point(n as u64) as usize;
                    node_hash(&naive(&leaves[..k]), &naive(&leaves[k..]))
                }
            }
        }
        let hashes = event_hashes(70);
        let leaves: Vec<Hash> = hashes.iter().map(|e| leaf_hash(e)).collect();
        let mut log = MerkleLog::new();
        let mut frontier = Frontier::new();
        let mut persisted = std::collections::HashMap::new();
        for (i, e) in hashes.iter().enumerate() {
            assert_eq!(log.push(e), i as u64);
            frontier.push_with(e, |l, idx, h| {
                assert!(persisted.insert((l, idx), *h).is_none());
            });
            let n = i + 1;
            let want = naive(&leaves[..n]);
            assert_eq!(log.root(), want);
            assert_eq!(frontier.root(), want);
            assert_eq!(root(&log, n as u64).unwrap(), want);
            assert_eq!(Frontier::from_source(&log, n as u64).unwrap(), frontier);
        }
        // What push_with reported is exactly what the MerkleLog holds.
        for ((l, idx), h) in &persisted {
            assert_eq!(log.node(*l, *idx).unwrap(), *h);
        }
        assert_eq!(
            persisted.len(),
            log.levels.iter().map(Vec::len).sum::<usize>()
        );
    }

    #[test]
    fn every_proof_in_small_trees_verifies() {
        let log = MerkleLog::from_event_hashes(&event_hashes(40));
        for n in 1..=40u64 {
            let r = root(&log, n).unwrap();
            for i in 0..n {
                let p = inclusion_proof(&log, i, n).unwrap();
                verify_inclusion(&log.node(0, i).unwrap(), i, n, &p, &r).unwrap();
            }
            for m in 0..=n {
                let p = consistency_proof(&log, m, n).unwrap();
                verify_consistency(m, n, &root(&log, m).unwrap(), &r, &p).unwrap();
            }
        }
    }

    fn tamper(proof: &mut Vec<Hash>, how: u8, pos: usize) {
        match how % 4 {
            0 if !proof.is_empty() => {
                let i = pos % proof.len();
                proof[i][pos % 32] ^= 1 << (pos % 8);
            }
            1 if !proof.is_empty() => {
                proof.pop();
            }
            2 if proof.len() >= 2 && proof[0] != proof[1] => proof.swap(0, 1),
            _ => proof.push([0xab; 32]),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn inclusion_proofs_verify_and_altered_ones_fail(
            n in 1u64..300, i_seed in any::<u64>(), how in any::<u8>(), pos in any::<usize>()
        ) {
            let log = MerkleLog::from_event_hashes(&event_hashes(n));
            let i = i_seed % n;
            let r = log.root();
            let leaf = log.node(0, i).unwrap();
            let mut p = inclusion_proof(&log, i, n).unwrap();
            prop_assert!(verify_inclusion(&leaf, i, n, &p, &r).is_ok());
            // The wrong index or leaf fails too. (A wrong size may not: the
            // size is bound to the root by the signed checkpoint.)
            if n > 1 {
                prop_assert!(verify_inclusion(&leaf, (i + 1) % n, n, &p, &r).is_err());
            }
            prop_assert!(verify_inclusion(&[0; 32], i, n, &p, &r).is_err());
            tamper(&mut p, how, pos);
            prop_assert!(verify_inclusion(&leaf, i, n, &p, &r).is_err());
        }

        #[test]
        fn consistency_proofs_verify_and_altered_ones_fail(
            n in 1u64..300, m_seed in any::<u64>(), how in any::<u8>(), pos in any::<usize>()
        ) {
            let log = MerkleLog::from_event_hashes(&event_hashes(n));
            let m = m_seed % (n + 1);
            let (r1, r2) = (root(&log, m).unwrap(), log.root());
            let mut p = consistency_proof(&log, m, n).unwrap();
            prop_assert!(verify_consistency(m, n, &r1, &r2, &p).is_ok());
            if m > 0 && m < n {
                prop_assert!(verify_consistency(m - 1, n, &r1, &r2, &p).is_err());
                prop_assert!(verify_consistency(m, n, &r2, &r2, &p).is_err());
                tamper(&mut p, how, pos);
                prop_assert!(verify_consistency(m, n, &r1, &r2, &p).is_err());
            }
        }
    }
}
