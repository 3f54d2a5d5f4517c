//! L3: entries as files under a directory, so they survive a restart, bounded
//! in bytes (least recently used go first). One file per key, named by a hash
//! of the key and written to a temporary name then renamed, so a crash leaves
//! either the old file, the new one, or a temporary file removed at the next
//! open. A file that does not decode is a miss, counted, and deleted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use proxima_core::{Error, Result};

use crate::codec::{decode, encode};
use crate::{CacheContext, CacheEntry, CacheLayer, Counters, Health, LayerResult, LayerStats, TagIndex, now_unix_ms};

const SUFFIX: &str = ".pxc";

/// Where L3 lives and how much it may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskConfig {
    /// The directory (created if missing).
    pub dir: PathBuf,
    /// Most bytes of files kept.
    pub max_bytes: u64,
}

#[derive(Debug, Default)]
struct Files {
    /// File name → its key, size and last use.
    by_name: HashMap<String, FileInfo>,
    bytes: u64,
    clock: u64,
}

#[derive(Debug)]
struct FileInfo {
    key: String,
    bytes: u64,
    used: u64,
}

/// The on-disk layer.
#[derive(Debug)]
pub struct DiskLayer {
    dir: PathBuf,
    max_bytes: u64,
    files: Mutex<Files>,
    tags: TagIndex,
    counters: Counters,
}

/// The file name of a key: FNV-1a 64, stable across restarts and builds.
fn file_name(key: &str) -> String {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("{hash:016x}{SUFFIX}")
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::internal(format!("a cache disk task failed: {e}")))?
}

impl DiskLayer {
    /// Opens the directory, indexing the entries a previous run left (damaged
    /// and temporary files are removed), and trims it to the bound.
    pub async fn open(config: DiskConfig) -> Result<Self> {
        if config.max_bytes == 0 {
            return Err(Error::invalid("cache.l3_max_bytes must be more than 0"));
        }
        let dir = config.dir.clone();
        let found = blocking(move || scan(&dir)).await?;
        let layer = Self {
            dir: config.dir,
            max_bytes: config.max_bytes,
            files: Mutex::new(Files::default()),
            tags: TagIndex::default(),
            counters: Counters::default(),
        };
        {
            let mut files = layer.lock();
            for (name, entry, bytes) in found {
                layer.tags.insert(&entry.key, &entry.tags);
                files.clock += 1;
                files.bytes += bytes;
                let used = files.clock;
                files.by_name.insert(name, FileInfo { key: entry.key, bytes, used });
            }
        }
        layer.trim().await;
        Ok(layer)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Files> {
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Forgets and deletes a file (the key it held, if it is still the one).
    async fn drop_file(&self, name: &str) {
        let removed = {
            let mut files = self.lock();
            files.by_name.remove(name).inspect(|info| files.bytes -= info.bytes)
        };
        if let Some(info) = removed {
            self.tags.remove_key(&info.key);
        }
        let path = self.path(name);
        let _ = blocking(move || Ok(std::fs::remove_file(path))).await;
    }

    /// Deletes the least recently used files until the bound holds.
    async fn trim(&self) {
        loop {
            let coldest = {
                let files = self.lock();
                if files.bytes <= self.max_bytes {
                    return;
                }
                files.by_name.iter().min_by_key(|(_, f)| f.used).map(|(name, _)| name.clone())
            };
            match coldest {
                Some(name) => self.drop_file(&name).await,
                None => return,
            }
        }
    }
}

/// Every entry file under `dir`: (name, entry, bytes); removes the rest of ours.
fn scan(dir: &Path) -> Result<Vec<(String, CacheEntry, u64)>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let listing = std::fs::read_dir(dir).map_err(|e| Error::io(format!("cannot list {}", dir.display()), e))?;
    let now = now_unix_ms();
    let mut found = Vec::new();
    for item in listing.flatten() {
        let name = item.file_name().to_string_lossy().into_owned();
        let path = item.path();
        if name.ends_with(".tmp") {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        if !name.ends_with(SUFFIX) {
            continue;
        }
        let decoded = std::fs::read(&path).ok().and_then(|bytes| Some((decode(&bytes)?, bytes.len() as u64)));
        match decoded {
            Some((entry, bytes)) if file_name(&entry.key) == name && !entry.expired(now) => {
                found.push((name, entry, bytes))
            }
            _ => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    Ok(found)
}

#[async_trait]
impl CacheLayer for DiskLayer {
    fn name(&self) -> &str {
        "l3"
    }

    async fn get(&self, key: &str, ctx: &mut CacheContext) -> LayerResult {
        let name = file_name(key);
        let known = {
            let mut files = self.lock();
            files.clock += 1;
            let clock = files.clock;
            files.by_name.get_mut(&name).filter(|f| f.key == key).map(|f| f.used = clock).is_some()
        };
        let found = if known {
            let path = self.path(&name);
            let read = blocking(move || Ok(std::fs::read(path).ok())).await.ok().flatten();
            match read.as_deref().map(decode) {
                Some(Some(entry)) if entry.key == key && !entry.expired(now_unix_ms()) => Some(entry),
                Some(Some(entry)) if entry.key == key => {
                    self.drop_file(&name).await; // expired
                    None
                }
                _ => {
                    // Damaged or gone: a miss, counted, and the file goes.
                    self.counters.error();
                    self.drop_file(&name).await;
                    None
                }
            }
        } else {
            None
        };
        self.counters.found(self.name(), ctx, found)
    }

    async fn set(&self, entry: CacheEntry) -> Result<()> {
        self.counters.operation();
        let name = file_name(&entry.key);
        let bytes = encode(&entry);
        let size = bytes.len() as u64;
        if size > self.max_bytes {
            return Ok(()); // larger than the whole layer: not kept
        }
        let (path, tmp) = (self.path(&name), self.path(&format!("{name}.tmp")));
        let written = blocking(move || {
            std::fs::write(&tmp, &bytes).and_then(|_| std::fs::rename(&tmp, &path)).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                Error::io(format!("cannot write cache file {}", path.display()), e)
            })
        })
        .await;
        if let Err(e) = written {
            self.counters.error();
            return Err(e);
        }
        let replaced = {
            let mut files = self.lock();
            files.clock += 1;
            let info = FileInfo { key: entry.key.clone(), bytes: size, used: files.clock };
            files.bytes += size;
            files.by_name.insert(name, info).inspect(|old| files.bytes -= old.bytes)
        };
        if let Some(old) = replaced.filter(|old| old.key != entry.key) {
            self.tags.remove_key(&old.key); // another key with the same hash
        }
        self.tags.insert(&entry.key, &entry.tags);
        self.trim().await;
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<()> {
        self.counters.operation();
        let name = file_name(key);
        let ours = self.lock().by_name.get(&name).is_some_and(|f| f.key == key);
        if ours {
            self.drop_file(&name).await;
        }
        Ok(())
    }

    async fn remove_tag(&self, tag: &str) -> Result<u64> {
        self.counters.operation();
        let keys = self.tags.keys(tag);
        for key in &keys {
            self.remove(key).await?;
        }
        Ok(keys.len() as u64)
    }

    async fn clear(&self) -> Result<()> {
        self.counters.operation();
        let names: Vec<String> = self.lock().by_name.keys().cloned().collect();
        for name in names {
            self.drop_file(&name).await;
        }
        Ok(())
    }

    async fn health(&self) -> Health {
        Health::healthy()
    }

    fn stats(&self) -> LayerStats {
        let files = self.lock();
        self.counters.snapshot(files.by_name.len() as u64, files.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn open(dir: &Path, max_bytes: u64) -> DiskLayer {
        DiskLayer::open(DiskConfig { dir: dir.to_path_buf(), max_bytes }).await.unwrap()
    }

    async fn get(layer: &DiskLayer, key: &str) -> LayerResult {
        layer.get(key, &mut CacheContext::new()).await
    }

    #[tokio::test]
    async fn entries_survive_a_reopen_and_tags_still_invalidate() {
        let dir = tempfile::tempdir().unwrap();
        let layer = open(dir.path(), 1 << 20).await;
        let entry = CacheEntry::new("docs/v1/q", &b"answer"[..]).with_tag("docs");
        layer.set(entry.clone()).await.unwrap();
        layer.set(CacheEntry::new("books/v1/q", &b"other"[..]).with_tag("books")).await.unwrap();
        drop(layer);
        let layer = open(dir.path(), 1 << 20).await;
        assert_eq!(get(&layer, "docs/v1/q").await, LayerResult::Hit(entry));
        assert_eq!(layer.remove_tag("docs").await.unwrap(), 1);
        assert_eq!(get(&layer, "docs/v1/q").await, LayerResult::Miss);
        assert!(matches!(get(&layer, "books/v1/q").await, LayerResult::Hit(_)));
    }

    #[tokio::test]
    async fn a_damaged_file_is_a_counted_miss_and_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let layer = open(dir.path(), 1 << 20).await;
        layer.set(CacheEntry::new("k", &b"value"[..])).await.unwrap();
        let path = dir.path().join(file_name("k"));
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(get(&layer, "k").await, LayerResult::Miss);
        assert_eq!(layer.stats().errors, 1);
        assert!(!path.exists(), "the damaged file is deleted");
        // A damaged file found at open is removed too.
        std::fs::write(dir.path().join(file_name("other")), b"PXC1 not an entry").unwrap();
        let reopened = open(dir.path(), 1 << 20).await;
        assert_eq!(reopened.stats().entries, 0);
        assert!(!dir.path().join(file_name("other")).exists());
    }

    #[tokio::test]
    async fn the_least_recently_used_go_past_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let layer = open(dir.path(), 10_000).await;
        for i in 0..30 {
            layer.set(CacheEntry::new(format!("k{i}"), vec![7u8; 900])).await.unwrap();
            // k0 stays warm.
            assert!(matches!(get(&layer, "k0").await, LayerResult::Hit(_)), "k0 after {i}");
        }
        let stats = layer.stats();
        assert!(stats.bytes <= 10_000, "{stats:?}");
        assert!(matches!(get(&layer, "k29").await, LayerResult::Hit(_)));
        assert_eq!(get(&layer, "k1").await, LayerResult::Miss, "the coldest went first");
        let on_disk: u64 = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.metadata().unwrap().len()).sum();
        assert_eq!(on_disk, stats.bytes, "the index counts what is on disk");
    }

    #[tokio::test]
    async fn an_expired_entry_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let layer = open(dir.path(), 1 << 20).await;
        layer.set(CacheEntry::new("k", &b"v"[..]).expiring_at(now_unix_ms() - 1)).await.unwrap();
        assert_eq!(get(&layer, "k").await, LayerResult::Miss);
    }
}
