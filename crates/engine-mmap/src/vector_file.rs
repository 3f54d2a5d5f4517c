//! The fixed-stride vector file: a 64-byte header, then slot after slot of
//! `dimension` little-endian f32s. Writes go through the file (`pwrite`), reads
//! through a read-only shared mapping that sees them via the page cache. The
//! file only grows while open, and every mapping handed out stays valid: views
//! keep the mapping they were made from, so a grow never unmaps under a reader.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use proxima_core::{Error, Result};

/// The file name inside a collection's directory.
pub(crate) const FILE: &str = "vectors.f32";
const MAGIC: &[u8; 8] = b"PXMMVEC1";
/// Header bytes; a multiple of 4 so rows stay f32-aligned in the page-aligned mapping.
pub(crate) const HEADER: u64 = 64;
/// Slots added when the file first grows; later grows double it (up to 64 Mi values).
const MIN_GROW_SLOTS: u64 = 1024;
const MAX_GROW_VALUES: u64 = 64 << 20;

/// A read-only mapping of the file, shared by views.
#[derive(Debug)]
pub(crate) struct Mapping {
    map: Mmap,
}

impl Mapping {
    /// The first `slots` rows as one slice.
    pub(crate) fn rows(&self, slots: usize, dimension: usize) -> &[f32] {
        let bytes = &self.map[HEADER as usize..HEADER as usize + slots * dimension * 4];
        // SAFETY: the mapping is page-aligned and HEADER is a multiple of 4, so the
        // pointer is f32-aligned; the length was checked against the file when the
        // mapping was made (`VectorFile::map`), and every bit pattern is a valid f32.
        // The rows a view treats as live are never rewritten while the view exists
        // (slots are reused only once no view can see them; see `SlotTable`).
        unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<f32>(), slots * dimension) }
    }
}

/// The open vector file.
#[derive(Debug)]
pub(crate) struct VectorFile {
    path: PathBuf,
    file: File,
    dimension: usize,
    /// Slots the file has room for.
    capacity: u64,
    mapping: Arc<Mapping>,
}

impl VectorFile {
    /// Creates an empty file for `dimension`-long vectors.
    pub(crate) fn create(dir: &Path, dimension: usize) -> Result<Self> {
        let path = dir.join(FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?;
        let mut header = [0u8; HEADER as usize];
        header[..8].copy_from_slice(MAGIC);
        header[8..12].copy_from_slice(&(dimension as u32).to_le_bytes());
        file.write_all_at(&header, 0).map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
        file.sync_all().map_err(|e| Error::io(format!("cannot sync {}", path.display()), e))?;
        Self::map(path, file, dimension, 0)
    }

    /// Opens the file of a collection whose slot table names `slots` slots:
    /// `Corrupted` (naming the file) when it is missing, for another dimension, or
    /// too short, checked before mapping so a short file can never raise SIGBUS.
    pub(crate) fn open(dir: &Path, dimension: usize, slots: u64) -> Result<Self> {
        let path = dir.join(FILE);
        let corrupted = |why: &str| Error::corrupted(why.to_string()).with_context("file", path.display());
        let file = OpenOptions::new().read(true).write(true).open(&path).map_err(|e| {
            let why =
                if e.kind() == std::io::ErrorKind::NotFound { "the vector file is missing" } else { "cannot open" };
            corrupted(why).with_source(e)
        })?;
        let mut header = [0u8; HEADER as usize];
        file.read_exact_at(&mut header, 0).map_err(|e| corrupted("the header is cut short").with_source(e))?;
        if &header[..8] != MAGIC {
            return Err(corrupted("not a vector file (bad magic)"));
        }
        let stored = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes")) as usize;
        if stored != dimension {
            return Err(corrupted(&format!("holds {stored}-d vectors, the collection is {dimension}-d")));
        }
        let len = file.metadata().map_err(|e| Error::io(format!("cannot stat {}", path.display()), e))?.len();
        let needed = HEADER + slots * (dimension as u64) * 4;
        if len < needed {
            return Err(corrupted(&format!("{len} bytes, the slot table needs {needed}")));
        }
        let capacity = (len - HEADER) / (dimension as u64 * 4);
        Self::map(path, file, dimension, capacity)
    }

    fn map(path: PathBuf, file: File, dimension: usize, capacity: u64) -> Result<Self> {
        let mapping = Arc::new(Self::map_file(&path, &file)?);
        Ok(Self { path, file, dimension, capacity, mapping })
    }

    fn map_file(path: &Path, file: &File) -> Result<Mapping> {
        // SAFETY: the file is ours (the collection directory is locked through its
        // WAL) and is never truncated while open; see `Mapping::rows` for reads.
        let map = unsafe { Mmap::map(file) }.map_err(|e| Error::io(format!("cannot map {}", path.display()), e))?;
        Ok(Mapping { map })
    }

    /// The current mapping.
    pub(crate) fn mapping(&self) -> Arc<Mapping> {
        self.mapping.clone()
    }

    /// Bytes on disk.
    pub(crate) fn bytes(&self) -> u64 {
        HEADER + self.capacity * self.dimension as u64 * 4
    }

    /// One row, copied out.
    pub(crate) fn row(&self, slot: u32) -> Vec<f32> {
        let d = self.dimension;
        let rows = self.mapping.rows(slot as usize + 1, d);
        rows[slot as usize * d..].to_vec()
    }

    /// Makes room for slots `0..slots`, growing the file and mapping it again.
    pub(crate) fn reserve(&mut self, slots: u64) -> Result<()> {
        if slots <= self.capacity {
            return Ok(());
        }
        let step = self.capacity.clamp(MIN_GROW_SLOTS, (MAX_GROW_VALUES / self.dimension as u64).max(1));
        let capacity = slots.max(self.capacity + step);
        let len = HEADER + capacity * self.dimension as u64 * 4;
        self.file.set_len(len).map_err(|e| Error::io(format!("cannot grow {}", self.path.display()), e))?;
        self.capacity = capacity;
        self.mapping = Arc::new(Self::map_file(&self.path, &self.file)?);
        Ok(())
    }

    /// Writes runs of consecutive slots with one `pwrite` each.
    pub(crate) fn write_rows(&mut self, rows: &[(u32, &[f32])]) -> Result<()> {
        let Some(max) = rows.iter().map(|(s, _)| *s).max() else { return Ok(()) };
        self.reserve(u64::from(max) + 1)?;
        let mut bytes = Vec::new();
        let mut i = 0;
        while i < rows.len() {
            let start = rows[i].0;
            bytes.clear();
            let mut next = start;
            while i < rows.len() && rows[i].0 == next {
                bytes.extend(rows[i].1.iter().flat_map(|x| x.to_le_bytes()));
                next += 1;
                i += 1;
            }
            let offset = HEADER + u64::from(start) * self.dimension as u64 * 4;
            self.file
                .write_all_at(&bytes, offset)
                .map_err(|e| Error::io(format!("cannot write {}", self.path.display()), e))?;
        }
        Ok(())
    }

    /// Makes written rows durable (checkpoints call this before recording them).
    pub(crate) fn sync(&self) -> Result<()> {
        self.file.sync_data().map_err(|e| Error::io(format!("cannot sync {}", self.path.display()), e))
    }
}
