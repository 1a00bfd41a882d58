//! The SOSD binary key format: little-endian `u64` count N, then N sorted `u64` keys
//! (file size exactly 8 + 8N). Files are memory-mapped, so a 1.6 GB file "loads" in the time it
//! takes to verify it is sorted.

use anyhow::{bail, Context, Result};
use memmap2::Mmap;
use rayon::prelude::*;
use std::io::Write;
use std::path::Path;

/// A read-only sorted key array, owned or memory-mapped; share it between runs with `Arc`.
pub enum KeySet {
    /// Keys generated or read into memory.
    Owned(Vec<u64>),
    /// Keys in a memory-mapped SOSD file (header skipped).
    Mapped { map: Mmap, len: usize },
}

impl KeySet {
    /// The sorted keys.
    pub fn keys(&self) -> &[u64] {
        match self {
            KeySet::Owned(v) => v,
            KeySet::Mapped { map, len } => {
                // SAFETY: the map is page-aligned, so offset 8 is 8-byte aligned; `len` was checked
                // against the file size; any bit pattern is a valid u64; the map is read-only and
                // lives as long as `self`. Little-endian hosts only (checked at load).
                unsafe { std::slice::from_raw_parts(map.as_ptr().add(8).cast::<u64>(), *len) }
            }
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys().len()
    }

    /// True if there are no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Index of the first key smaller than its predecessor, if any (parallel scan).
pub fn first_unsorted(keys: &[u64]) -> Option<usize> {
    const CHUNK: usize = 1 << 20;
    (0..keys.len().div_ceil(CHUNK))
        .into_par_iter()
        .filter_map(|c| {
            let start = (c * CHUNK).max(1);
            let end = ((c + 1) * CHUNK).min(keys.len());
            (start..end).find(|&i| keys[i] < keys[i - 1])
        })
        .min()
}

/// Opens and validates a SOSD file: size, header and sort order. Errors say what is wrong.
pub fn load_sosd(path: &Path) -> Result<KeySet> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open SOSD file {}", path.display()))?;
    let size = file.metadata()?.len();
    if size < 8 {
        bail!(
            "{}: {size} bytes is too short for a SOSD file (8-byte count header missing)",
            path.display()
        );
    }
    if (size - 8) % 8 != 0 {
        bail!(
            "{}: size {size} is not 8 + 8N: the file is truncated or not a SOSD u64 file",
            path.display()
        );
    }
    // SAFETY: the file is opened read-only; concurrent modification by another process is the
    // user's responsibility (as for any mmap-based loader).
    let map =
        unsafe { Mmap::map(&file) }.with_context(|| format!("cannot map {}", path.display()))?;
    let count = u64::from_le_bytes(map[..8].try_into().expect("8 bytes"));
    let len = ((size - 8) / 8) as usize;
    if count != len as u64 {
        bail!(
            "{}: header says {count} keys but the file holds {len} (truncated or corrupt; expected size {} bytes)",
            path.display(),
            count.saturating_mul(8).saturating_add(8)
        );
    }
    let set = if cfg!(target_endian = "little") {
        KeySet::Mapped { map, len }
    } else {
        KeySet::Owned(
            map[8..]
                .chunks_exact(8)
                .map(|b| u64::from_le_bytes(b.try_into().expect("8")))
                .collect(),
        )
    };
    if let Some(i) = first_unsorted(set.keys()) {
        let k = set.keys();
        bail!(
            "{}: keys are not sorted: key #{i} ({}) < key #{} ({})",
            path.display(),
            k[i],
            i - 1,
            k[i - 1]
        );
    }
    Ok(set)
}

/// Writes keys as a SOSD file, atomically (temporary file, then rename).
pub fn write_sosd(path: &Path, keys: &[u64]) -> Result<()> {
    let tmp = path.with_extension("sosd.tmp");
    let write = || -> std::io::Result<()> {
        let f = std::fs::File::create(&tmp)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 22, f);
        w.write_all(&(keys.len() as u64).to_le_bytes())?;
        for chunk in keys.chunks(1 << 16) {
            let bytes: Vec<u8> = chunk.iter().flat_map(|k| k.to_le_bytes()).collect();
            w.write_all(&bytes)?;
        }
        w.flush()?;
        w.get_ref().sync_all()
    };
    let done = write()
        .with_context(|| format!("cannot write {} (via {})", path.display(), tmp.display()))
        .and_then(|()| {
            std::fs::rename(&tmp, path)
                .with_context(|| format!("cannot move {} into place", tmp.display()))
        });
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp); // leave no debris (e.g. on a full disk)
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.sosd");
        write_sosd(&p, &[1, 2, 2, 9]).unwrap();
        assert_eq!(load_sosd(&p).unwrap().keys(), &[1, 2, 2, 9]);

        // Truncated: drop the last 3 bytes.
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 3]).unwrap();
        let e = format!("{:#}", load_sosd(&p).err().unwrap());
        assert!(e.contains("not 8 + 8N"), "{e}");
        // Whole keys missing: header disagrees.
        std::fs::write(&p, &bytes[..bytes.len() - 8]).unwrap();
        let e = format!("{:#}", load_sosd(&p).err().unwrap());
        assert!(e.contains("header says 4 keys but the file holds 3"), "{e}");
        // Unsorted.
        write_sosd(&p, &[5, 3]).unwrap();
        let e = format!("{:#}", load_sosd(&p).err().unwrap());
        assert!(e.contains("not sorted") && e.contains("key #1"), "{e}");
    }

    #[test]
    fn first_unsorted_finds_the_earliest() {
        let mut v: Vec<u64> = (0..3_000_000).collect();
        v[2_500_000] = 0;
        v[1_100_000] = 0;
        assert_eq!(first_unsorted(&v), Some(1_100_000));
    }
}
