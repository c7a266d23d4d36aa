//! Tiles and entry bundles: C2SP `tlog-tiles` (<https://c2sp.org/tlog-tiles>).
//!
//! The Merkle tree of [`crate::merkle`] is served as static *tiles* of height
//! [`TILE_HEIGHT`] = 8. Hash tile `n` at tile level `L` is the concatenation
//! of up to [`TILE_WIDTH`] = 256 node hashes (32 bytes each, so a full tile
//! is 8,192 bytes); hash `i` of it is, in the notation of RFC 9162 §2.1.1:
//!
//! ```text
//! MTH(D[(n·256 + i)·256^L : (n·256 + i + 1)·256^L])   = node (level 8·L, index n·256 + i)
//! ```
//!
//! A tree of size `s` has `floor(s / 256^L)` such nodes at tile level `L`:
//! the full tiles, then one *partial* tile of width `floor(s / 256^L) mod 256`
//! if that is not 0. Node levels between `8·L` and `8·L + 7` are not stored:
//! they are hashed up from the level-`L` tile ([`TileHashReader`]).
//!
//! Paths (relative to the log's URL prefix):
//!
//! ```text
//! tile/<L>/<N>[.p/<W>]         L: 0..=63, decimal, no leading zeros
//! tile/entries/<N>[.p/<W>]     W: 1..=255, decimal, no leading zeros; absent for full tiles
//! <N>: 3-digit groups, all but the last prefixed by "x": 1234067 -> x001/x234/067
//! ```
//!
//! An entry bundle holds the entries of the matching level-0 tile, each as
//! `uint16_be(len(entry)) || entry`, so an entry is at most 65,535 bytes.

use std::sync::{Arc, Mutex};

use crate::merkle::{root_from_leaves, HashReader};
use crate::{Error, Hash, Result};

/// Tile height: a tile spans 8 levels of the tree.
pub const TILE_HEIGHT: u8 = 8;
/// Tile width: a full tile holds 2^8 = 256 hashes or entries.
pub const TILE_WIDTH: u64 = 256;

/// The largest entry an entry bundle can carry (its 2-byte length prefix).
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;

/// Highest tile level a path may name (C2SP: "between 0 and 63").
const MAX_TILE_LEVEL: u8 = 63;

/// Bytes in one hash.
const HASH_SIZE: usize = 32;

/// What a tile holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileLevel {
    /// Hashes at tile level `L`: tree nodes of level `8·L`.
    Hashes(u8),
    /// The entry bundle matching the level-0 hash tile.
    Entries,
}

/// One tile or entry bundle: its level, index within the level, and width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    /// Hash tile level, or entries.
    pub level: TileLevel,
    /// Index of the tile within its level (`N`).
    pub index: u64,
    /// Number of hashes or entries, 1..=256; 256 is a full tile.
    pub width: u16,
}

impl TileId {
    /// The tile at `level` and `index` as it is in a tree of `size` leaves
    /// (full, or partial with its width), or `None` if that tree has no such tile.
    pub fn for_size(level: TileLevel, index: u64, size: u64) -> Option<TileId> {
        let base_level = match level {
            TileLevel::Hashes(l) if l < TILE_HEIGHT => l * TILE_HEIGHT,
            TileLevel::Hashes(_) => return None,
            TileLevel::Entries => 0,
        };
        let width = tile_width(size >> base_level, index);
        (width > 0).then_some(TileId {
            level,
            index,
            width,
        })
    }

    /// Whether this is a full tile (256 wide), which never changes once written.
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The path of this tile under the log's URL prefix, e.g.
    /// `tile/0/x001/234`, `tile/1/005.p/17`, `tile/entries/005.p/7`.
    pub fn path(&self) -> String {
        let level = match self.level {
            TileLevel::Hashes(l) => l.to_string(),
            TileLevel::Entries => "entries".to_string(),
        };
        let index = encode_index(self.index);
        if self.is_full() {
            format!("tile/{level}/{index}")
        } else {
            format!("tile/{level}/{index}.p/{}", self.width)
        }
    }

    /// Parses a path of the form [`path`](Self::path) writes, strictly: no
    /// leading `/` or other junk, no empty or `..` elements, 3-digit index
    /// groups with `x` on all but the last, no redundant leading `x000`
    /// group, and `.p/<W>` only for widths 1 to 255 (a full tile has no `.p`).
    pub fn parse_path(p: &str) -> Result<TileId> {
        let err = |reason| Error::BadTilePath {
            path: p.to_string(),
            reason,
        };
        let rest = p
            .strip_prefix("tile/")
            .ok_or_else(|| err("a tile path starts with \"tile/\""))?;
        let (level, rest) = rest
            .split_once('/')
            .ok_or_else(|| err("a tile path is tile/<level>/<index>"))?;
        let level = if level == "entries" {
            TileLevel::Entries
        } else {
            TileLevel::Hashes(parse_level(level).map_err(err)?)
        };
        let (index, width) = match rest.rsplit_once(".p/") {
            Some((index, width)) => (index, parse_width(width).map_err(err)?),
            None => (rest, TILE_WIDTH as u16),
        };
        let index = parse_index_str(index).map_err(err)?;
        Ok(TileId {
            level,
            index,
            width,
        })
    }
}

/// Width of tile `index` over `count` nodes (or entries) at its base level: 0..=256.
fn tile_width(count: u64, index: u64) -> u16 {
    let Some(start) = index.checked_mul(TILE_WIDTH) else {
        return 0;
    };
    count.saturating_sub(start).min(TILE_WIDTH) as u16
}

/// `<L>`: decimal 0..=63, no leading zeros.
fn parse_level(s: &str) -> Result<u8, &'static str> {
    const WHY: &str =
        "the level must be \"entries\" or a decimal number 0 to 63 without leading zeros";
    if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WHY);
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(WHY);
    }
    match s.parse::<u8>() {
        Ok(l) if l <= MAX_TILE_LEVEL => Ok(l),
        _ => Err(WHY),
    }
}

/// `<W>` of `.p/<W>`: decimal 1..=255, no leading zeros.
fn parse_width(s: &str) -> Result<u16, &'static str> {
    const WHY: &str = "a partial tile width must be a decimal number 1 to 255 without leading zeros (a full tile has no .p/ suffix)";
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) || s.starts_with('0') {
        return Err(WHY);
    }
    match s.parse::<u16>() {
        Ok(w) if (1..TILE_WIDTH as u16).contains(&w) => Ok(w),
        _ => Err(WHY),
    }
}

/// Encodes a tile index as path elements: zero-padded 3-digit groups, all
/// but the last prefixed by `x` (`1234067` → `x001/x234/067`, `5` → `005`).
pub fn encode_index(n: u64) -> String {
    let mut groups = Vec::new();
    let mut n = n;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let mut out = String::with_capacity(groups.len() * 5);
    for (i, g) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            out.push_str(&format!("x{g:03}/"));
        } else {
            out.push_str(&format!("{g:03}"));
        }
    }
    out
}

/// Parses the index path elements written by [`encode_index`], strictly.
pub fn parse_index(s: &str) -> Result<u64> {
    parse_index_str(s).map_err(|reason| Error::BadTilePath {
        path: s.to_string(),
        reason,
    })
}

fn parse_index_str(s: &str) -> Result<u64, &'static str> {
    let elements: Vec<&str> = s.split('/').collect();
    let mut n: u64 = 0;
    for (i, element) in elements.iter().enumerate() {
        let last = i + 1 == elements.len();
        let digits = if last {
            if element.starts_with('x') {
                return Err("the last index element has no \"x\" prefix");
            }
            *element
        } else {
            element
                .strip_prefix('x')
                .ok_or("every index element but the last starts with \"x\"")?
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("every index element is exactly 3 decimal digits");
        }
        let group: u64 = digits.parse().map_err(|_| "bad index digits")?;
        if i == 0 && !last && group == 0 {
            return Err("the index has a redundant leading x000 element");
        }
        n = n
            .checked_mul(1000)
            .and_then(|n| n.checked_add(group))
            .ok_or("the index does not fit in 64 bits")?;
    }
    Ok(n)
}

/// Every hash tile of the tree of `size` leaves, full and partial, level by
/// level (lowest first), in index order. O(size / 256) tiles.
pub fn tiles_for_size(size: u64) -> Vec<TileId> {
    let mut tiles = Vec::new();
    for level in 0..TILE_HEIGHT {
        let count = size >> (level * TILE_HEIGHT);
        if count == 0 {
            break;
        }
        for index in 0..count.div_ceil(TILE_WIDTH) {
            tiles.push(TileId {
                level: TileLevel::Hashes(level),
                index,
                width: tile_width(count, index),
            });
        }
    }
    tiles
}

/// The hash tiles (every level) and entry bundles of the tree of `new`
/// leaves whose contents differ from the tree of `old` leaves: the ones a
/// log writes when it grows from `old` to `new`. Each comes with its width
/// at `new`. Hash tiles first (lowest level first), then entry bundles.
/// Empty when `new <= old`.
pub fn changed_tiles(old: u64, new: u64) -> Vec<TileId> {
    let mut hashes = Vec::new();
    let mut entries = Vec::new();
    if new <= old {
        return hashes;
    }
    for level in 0..TILE_HEIGHT {
        let shift = level * TILE_HEIGHT;
        let (count_old, count_new) = (old >> shift, new >> shift);
        if count_old == count_new {
            // Nothing grew at this level, so nothing grows above it either.
            break;
        }
        // The tile holding the old right edge grows; every later one is new.
        for index in count_old / TILE_WIDTH..count_new.div_ceil(TILE_WIDTH) {
            let width = tile_width(count_new, index);
            hashes.push(TileId {
                level: TileLevel::Hashes(level),
                index,
                width,
            });
            if level == 0 {
                entries.push(TileId {
                    level: TileLevel::Entries,
                    index,
                    width,
                });
            }
        }
    }
    hashes.extend(entries);
    hashes
}

/// Encodes an entry bundle: `uint16_be(len) || entry` for each entry.
/// Refuses an entry over 65,535 bytes ([`Error::EntryTooLarge`]) and more
/// than 256 entries.
pub fn encode_bundle<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for (count, entry) in entries.into_iter().enumerate() {
        if count as u64 >= TILE_WIDTH {
            return Err(Error::BadBundle("a bundle holds at most 256 entries"));
        }
        let len = u16::try_from(entry.len()).map_err(|_| Error::EntryTooLarge(entry.len()))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

/// Parses an entry bundle into its entries (borrowed from `data`). Refuses a
/// truncated bundle (a length prefix or an entry cut short), and bytes
/// trailing after a full bundle of 256 entries.
pub fn parse_bundle(data: &[u8]) -> Result<Vec<&[u8]>> {
    let mut entries = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if entries.len() as u64 == TILE_WIDTH {
            return Err(Error::BadBundle(
                "trailing bytes after 256 entries, the most a bundle holds",
            ));
        }
        let Some((len, tail)) = rest.split_first_chunk::<2>() else {
            return Err(Error::BadBundle(
                "the bundle ends inside a 2-byte length prefix (truncated, or trailing bytes)",
            ));
        };
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(Error::BadBundle(
                "an entry runs past the end of the bundle (truncated)",
            ));
        }
        let (entry, tail) = tail.split_at(len);
        entries.push(entry);
        rest = tail;
    }
    Ok(entries)
}

/// Parses an entry bundle that must hold exactly `width` entries (the `W`
/// of its path, 256 for a full bundle): fewer means it was truncated, more
/// means trailing bytes.
pub fn parse_bundle_exact(data: &[u8], width: u16) -> Result<Vec<&[u8]>> {
    let entries = parse_bundle(data)?;
    match entries.len().cmp(&usize::from(width)) {
        std::cmp::Ordering::Less => Err(Error::BadBundle(
            "fewer entries than the tile width: the bundle is truncated",
        )),
        std::cmp::Ordering::Greater => Err(Error::BadBundle(
            "more entries than the tile width: trailing bytes",
        )),
        std::cmp::Ordering::Equal => Ok(entries),
    }
}

/// The most bytes tile `id` can have: 32 a hash for a hash tile (8 KiB
/// when full), 2 + [`MAX_ENTRY_SIZE`] an entry for an entry bundle (about
/// 16 MiB when full). A reader stops reading a longer body there.
pub fn max_tile_bytes(id: TileId) -> usize {
    let width = usize::from(id.width);
    match id.level {
        TileLevel::Hashes(_) => width * HASH_SIZE,
        TileLevel::Entries => width * (2 + MAX_ENTRY_SIZE),
    }
}

/// The partial tile `id` cut from `full`, the full tile at its index: its
/// first `id.width` hashes or entries (all of `full` if it is shorter). A log
/// may delete a partial tile once the full one exists (C2SP tlog-tiles), so
/// a reader that finds the partial gone reads the full one and cuts it.
pub fn cut_tile(id: TileId, mut full: Vec<u8>) -> Vec<u8> {
    let width = usize::from(id.width);
    match id.level {
        TileLevel::Hashes(_) => {
            full.truncate(width * HASH_SIZE);
            full
        }
        TileLevel::Entries => {
            let mut pos = 0usize;
            for _ in 0..width {
                let Some(len) = full.get(pos..pos + 2) else {
                    break;
                };
                pos = (pos + 2 + usize::from(u16::from_be_bytes([len[0], len[1]]))).min(full.len());
            }
            full.truncate(pos);
            full
        }
    }
}

/// The contents of hash tile (`level`, `index`, `width`) read from stored
/// nodes: nodes `(8·level, index·256 + i)` for `i < width`, concatenated.
/// What a log serves at the tile's path.
pub fn hash_tile_data(r: &impl HashReader, level: u8, index: u64, width: u16) -> Result<Vec<u8>> {
    if level >= TILE_HEIGHT || width == 0 || u64::from(width) > TILE_WIDTH {
        return Err(Error::BadTile("no such hash tile level or width"));
    }
    let node_level = level * TILE_HEIGHT;
    let mut out = Vec::with_capacity(usize::from(width) * HASH_SIZE);
    for i in 0..u64::from(width) {
        let node = index
            .checked_mul(TILE_WIDTH)
            .and_then(|n| n.checked_add(i))
            .ok_or(Error::BadTile("tile index out of range"))?;
        out.extend_from_slice(&r.read_hash(node_level, node)?);
    }
    Ok(out)
}

/// A source of hash tiles, such as a tile cache, a directory or an HTTP client.
pub trait TileReader {
    /// The bytes of hash tile `index` at tile level `level` (node level
    /// `8·level`) with `width` hashes: `32·width` bytes.
    fn read_tile(&self, level: u8, index: u64, width: u16) -> Result<Vec<u8>>;
}

impl<T: TileReader + ?Sized> TileReader for &T {
    fn read_tile(&self, level: u8, index: u64, width: u16) -> Result<Vec<u8>> {
        (**self).read_tile(level, index, width)
    }
}

/// How many recently read tiles a [`TileHashReader`] keeps.
const TILE_CACHE_SLOTS: usize = 8;

/// A cached tile: (tile level, index, width) and its hashes.
type CachedTile = ((u8, u64, u16), Arc<Vec<u8>>);

/// A [`HashReader`] over the tiles of a tree of known size: any complete
/// node `(level, index)` of that tree, computed from tile data.
///
/// A node at level `l` with `8·L <= l < 8·L + 8` is hashed up from the
/// `2^(l - 8·L)` hashes under it in the level-`L` tile (which is read with
/// the width it has at this tree size). The last few tiles read are kept,
/// so a proof, which reads several nodes of one tile, fetches it once.
pub struct TileHashReader<T: TileReader> {
    tiles: T,
    size: u64,
    cache: Mutex<Vec<CachedTile>>,
}

impl<T: TileReader> TileHashReader<T> {
    /// A reader of the tree of `size` leaves whose tiles `tiles` serves.
    pub fn new(tiles: T, size: u64) -> Self {
        TileHashReader {
            tiles,
            size,
            cache: Mutex::new(Vec::new()),
        }
    }

    /// The tree size this reader reads.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Gives back the tile source.
    pub fn into_inner(self) -> T {
        self.tiles
    }

    fn tile(&self, level: u8, index: u64, width: u16) -> Result<Arc<Vec<u8>>> {
        let key = (level, index, width);
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, data)) = cache.iter().find(|(k, _)| *k == key) {
                return Ok(Arc::clone(data));
            }
        }
        let data = self.tiles.read_tile(level, index, width)?;
        if data.len() != usize::from(width) * HASH_SIZE {
            return Err(Error::BadTile(
                "a hash tile must be 32 bytes per hash of its width",
            ));
        }
        let data = Arc::new(data);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() == TILE_CACHE_SLOTS {
            cache.remove(0);
        }
        cache.push((key, Arc::clone(&data)));
        Ok(data)
    }
}

impl<T: TileReader> HashReader for TileHashReader<T> {
    fn read_hash(&self, level: u8, index: u64) -> Result<Hash> {
        let unavailable = Error::HashUnavailable { level, index };
        // Only complete subtrees of this tree exist.
        if level >= 64 || index >= self.size >> level {
            return Err(unavailable);
        }
        let tile_level = level / TILE_HEIGHT;
        let base_level = tile_level * TILE_HEIGHT;
        let height = level - base_level;
        // The node covers base-level nodes [first, first + 2^height) of one tile.
        let first = index << height;
        let tile_index = first / TILE_WIDTH;
        let offset = (first % TILE_WIDTH) as usize;
        let width = tile_width(self.size >> base_level, tile_index);
        let data = self.tile(tile_level, tile_index, width)?;
        let span = &data[offset * HASH_SIZE..(offset + (1 << height)) * HASH_SIZE];
        let hashes: Vec<Hash> = span
            .chunks_exact(HASH_SIZE)
            .map(|c| c.try_into().expect("chunks are 32 bytes"))
            .collect();
        // A perfect subtree: its root by the definition.
        Ok(root_from_leaves(&hashes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_tiles_are_cut_from_full_ones() {
        let hashes: Vec<u8> = (0..256u32).flat_map(|i| [i as u8; 32]).collect();
        let id = TileId {
            level: TileLevel::Hashes(0),
            index: 0,
            width: 3,
        };
        assert_eq!(cut_tile(id, hashes.clone()), hashes[..96].to_vec());

        let entries: Vec<Vec<u8>> = (0..256u32)
            .map(|i| vec![i as u8; (i % 7) as usize])
            .collect();
        let bundle = encode_bundle(entries.iter().map(Vec::as_slice)).unwrap();
        let id = TileId {
            level: TileLevel::Entries,
            index: 0,
            width: 5,
        };
        let cut = cut_tile(id, bundle);
        let parsed = parse_bundle(&cut).unwrap();
        assert_eq!(
            parsed,
            entries[..5].iter().map(Vec::as_slice).collect::<Vec<_>>()
        );
    }

    #[test]
    fn tile_bodies_are_bounded_by_their_width() {
        let full = |level| TileId {
            level,
            index: 7,
            width: 256,
        };
        assert_eq!(max_tile_bytes(full(TileLevel::Hashes(2))), 8192);
        assert_eq!(
            max_tile_bytes(TileId {
                width: 3,
                ..full(TileLevel::Hashes(0))
            }),
            96
        );
        let bundle = full(TileLevel::Entries);
        assert_eq!(max_tile_bytes(bundle), 256 * (2 + 65_535));
        let biggest = vec![vec![9u8; MAX_ENTRY_SIZE]; 256];
        let body = encode_bundle(biggest.iter().map(Vec::as_slice)).unwrap();
        assert_eq!(body.len(), max_tile_bytes(bundle));
    }

    #[test]
    fn spec_example_tree_of_70000() {
        // C2SP tlog-tiles: 273 full level-0 tiles, a partial one of width
        // 112, one full level-1 tile, a partial one of width 17, and a
        // partial level-2 tile of width 1.
        let tiles = tiles_for_size(70_000);
        let of = |l| {
            tiles
                .iter()
                .filter(move |t| t.level == TileLevel::Hashes(l))
        };
        assert_eq!(of(0).filter(|t| t.is_full()).count(), 273);
        assert_eq!(of(0).next_back().unwrap().width, 112);
        assert_eq!(of(1).filter(|t| t.is_full()).count(), 1);
        assert_eq!(of(1).next_back().unwrap().width, 17);
        assert_eq!(of(2).map(|t| t.width).collect::<Vec<_>>(), vec![1]);
        assert_eq!(tiles.len(), 274 + 2 + 1);
    }

    #[test]
    fn spec_example_tree_of_256() {
        let tiles = tiles_for_size(256);
        assert_eq!(
            tiles,
            vec![
                TileId {
                    level: TileLevel::Hashes(0),
                    index: 0,
                    width: 256
                },
                TileId {
                    level: TileLevel::Hashes(1),
                    index: 0,
                    width: 1
                },
            ]
        );
    }
}
