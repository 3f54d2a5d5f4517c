//! Single-client cases: CRUD, versions, listing, batches, backups, expiry.

use proxima_core::{ErrorKind, now_unix_secs};

use super::{CaseError, CaseResult, MetaHarness, ensure, expect_kind, same_fields, sample};
use crate::{AccessPattern, BatchOp, CollectionMetadata, ListFilter, now_millis};

/// Every field survives create → get; the backend sets version and timestamps.
pub async fn create_and_get_round_trip(h: &dyn MetaHarness) -> CaseResult {
    let b = h.open().await?;
    let before = now_millis();
    let input = sample("rt-full", 1);
    let stored = b.create(input.clone()).await?;
    ensure!(same_fields(&stored, &input), "create changed fields:\n{stored:?}\n{input:?}");
    ensure!(stored.version == 1, "version after create is {}", stored.version);
    ensure!(stored.created_at >= before - 1000 && stored.created_at == stored.updated_at, "timestamps {stored:?}");
    let got = b.get("rt-full").await?.ok_or_else(|| CaseError("created entry not found".into()))?;
    ensure!(got == stored, "get differs from create's result:\n{got:?}\n{stored:?}");
    let minimal = CollectionMetadata::new("rt-min-id", "rt-min", 3);
    let stored = b.create(minimal.clone()).await?;
    ensure!(same_fields(&stored, &minimal), "minimal entry changed: {stored:?}");
    ensure!(b.get("rt-min").await? == Some(stored), "minimal entry differs on get");
    ensure!(b.get("rt-none").await?.is_none(), "get of a missing name returned something");
    Ok(())
}

/// A taken name or id is `AlreadyExists` and changes nothing.
pub async fn duplicates_are_refused(h: &dyn MetaHarness) -> CaseResult {
    let b = h.open().await?;
    let first = b.create(sample("dup-a", 1)).await?;
    let mut same_name = sample("dup-a", 2);
    same_name.id = "dup-other-id".into();
    expect_kind(b.create(same_name).await, ErrorKind::AlreadyExists, "same name")?;
    let mut same_id = sample("dup-b", 3);
    same_id.id = first.id.clone();
    expect_kind(b.create(same_id).await, ErrorKind::AlreadyExists, "same id")?;
    ensure!(b.get("dup-a").await? == Some(first), "a refused create changed the entry");
    ensure!(b.get("dup-b").await?.is_none(), "a refused create stored an entry");
    Ok(())
}

/// Malformed entries and filters are `InvalidArgument`.
pub async fn invalid_input_is_refused(h: &dyn MetaHarness) -> CaseResult {
    let b = h.open().await?;
    expect_kind(
        b.create(CollectionMetadata::new("inv-1", "bad name", 4)).await,
        ErrorKind::InvalidArgument,
        "name with space",
    )?;
    expect_kind(
        b.create(CollectionMetadata::new("inv-2", "inv-zero", 0)).await,
        ErrorKind::InvalidArgument,
        "dimension 0",
    )?;
    expect_kind(b.create(CollectionMetadata::new("", "inv-noid", 4)).await, ErrorKind::InvalidArgument, "empty id")?;
    ensure!(b.get("inv-zero").await?.is_none(), "an invalid entry was stored");
    let bad_limit = ListFilter { limit: Some(0), ..Default::default() };
    expect_kind(b.list(&bad_limit).await, ErrorKind::InvalidArgument, "limit 0")?;
    Ok(())
}

/// Updates need the current version; a stale one is `Conflict` and changes nothing.
pub async fn update_checks_version(h: &dyn MetaHarness) -> CaseResult {
    let b = h.open().await?;
    let v1 = b.create(sample("upd", 1)).await?;
    let mut change = v1.clone();
    change.description = Some("changed".into());
    change.tags = vec!["x".into()];
    change.vector_count = 7;
    let v2 = b.update(change.clone()).await?;
    ensure!(v2.version == 2, "version after update {}", v2.version);
    ensure!(same_fields(&v2, &change), "update did not store the fields");
    ensure!(v2.created_at == v1.created_at && v2.updated_at >= v1.updated_at, "timestamps after update: {v2:?}");
    ensure!(b.get("upd").await? == Some(v2.clone()), "get after update differs");
    let mut stale = v1.clone();
    stale.description = Some("stale".into());
    expect_kind(b.update(stale).await, ErrorKind::Conflict, "stale update")?;
    ensure!(b.get("upd").await? == Some(v2.clone()), "a stale update changed the entry");
    let mut other_id = v2.clone();
    other_id.id = "upd-new-id".into();
    expect_kind(b.update(other_id).await, ErrorKind::InvalidArgument, "update changing the id")?;
    expect_kind(b.update(sample("upd-missing", 1)).await, ErrorKind::NotFound, "update of a missing entry")?;
    Ok(())
}

/// Deletes check the version when given; a deleted name can be reused.
pub async fn delete_checks_version(h: &dyn MetaHarness) -> CaseResult {
    let b = h.open().await?;
    let v1 = b.create(sample("del", 1)).await?;
    expect_kind(b.delete("del", Some(v1.version + 1)).await, ErrorKind::Conflict, "delete with a wrong version")?;
    ensure!(b.get("del").await?.is_some(), "a refused delete removed the entry");
    b.delete("del", Some(v1.version)).await?;
    ensure!(b.get("del").await?.is_none(), "deleted entry still returned");
    expect_kind(b.delete("del", None).await, ErrorKind::NotFound, "second delete")?;
    let again = b.create(sample("del", 2)).await?;
    ensure!(again.version == 1, "a re-created entry starts at version {}", again.version);
    Ok(())
}

async fn names(b: &dyn crate::MetadataBackend, filter: ListFilter) -> Result<Vec<String>, CaseError> {
    Ok(b.list(&filter).await?.items.into_iter().map(|m| m.name).collect())
}

/// Every filter selects the right entries, in name order, and pages cover all without repeats.
pub async fn list_filters_and_pages(h: &dyn MetaHarness) -> CaseResult {
    let b = h.open().await?;
    let specs: [(&str, &[&str], &str, AccessPattern, &str); 5] = [
        ("lst-e", &["red", "big"], "ann", AccessPattern::Hot, "Shoes for running"),
        ("lst-b", &["red"], "bob", AccessPattern::Cold, "Winter boots"),
        ("lst-d", &["blue", "big"], "ann", AccessPattern::Normal, "Running shoes and socks"),
        ("lst-a", &[], "cyd", AccessPattern::Hot, "Hats"),
        ("lst-c", &["blue"], "bob", AccessPattern::Archive, "Old catalog"),
    ];
    for (name, tags, owner, pattern, description) in specs {
        let mut m = CollectionMetadata::new(format!("{name}-id"), name, 8);
        m.tags = tags.iter().map(|t| t.to_string()).collect();
        m.owner = Some(owner.into());
        m.access_pattern = pattern;
        m.description = Some(description.into());
        b.create(m).await?;
    }
    let base = || ListFilter { name_prefix: Some("lst-".into()), ..Default::default() };
    let all = names(&*b, base()).await?;
    ensure!(all == ["lst-a", "lst-b", "lst-c", "lst-d", "lst-e"], "prefix list: {all:?}");
    let checks: Vec<(&str, ListFilter, Vec<&str>)> = vec![
        (
            "tags_any",
            ListFilter { tags_any: vec!["red".into(), "blue".into()], ..base() },
            vec!["lst-b", "lst-c", "lst-d", "lst-e"],
        ),
        ("tags_all", ListFilter { tags_all: vec!["blue".into(), "big".into()], ..base() }, vec!["lst-d"]),
        ("owner", ListFilter { owner: Some("bob".into()), ..base() }, vec!["lst-b", "lst-c"]),
        ("access_pattern", ListFilter { access_pattern: Some(AccessPattern::Hot), ..base() }, vec!["lst-a", "lst-e"]),
        ("text", ListFilter { text: Some("shoes".into()), ..base() }, vec!["lst-d", "lst-e"]),
        ("text, two terms", ListFilter { text: Some("RUNNING socks".into()), ..base() }, vec!["lst-d"]),
        ("text on owner and tag", ListFilter { text: Some("ann big".into()), ..base() }, vec!["lst-d", "lst-e"]),
        ("combined", ListFilter { owner: Some("ann".into()), tags_any: vec!["red".into()], ..base() }, vec!["lst-e"]),
        ("no match", ListFilter { text: Some("submarine".into()), ..base() }, vec![]),
    ];
    for (what, filter, expected) in checks {
        let got = names(&*b, filter).await?;
        ensure!(got == expected, "{what}: got {got:?}, expected {expected:?}");
    }
    let mut paged = Vec::new();
    let mut token = None;
    for _ in 0..10 {
        let page = b.list(&ListFilter { limit: Some(2), page_token: token.clone(), ..base() }).await?;
        ensure!(page.items.len() <= 2, "page of {} items with limit 2", page.items.len());
        paged.extend(page.items.into_iter().map(|m| m.name));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    ensure!(paged == all, "paging returned {paged:?}");
    Ok(())
}

/// A batch with one failing operation applies none; a good batch applies all.
pub async fn batch_is_all_or_nothing(h: &dyn MetaHarness) -> CaseResult {
    let b = h.open().await?;
    if !b.capabilities().atomic_batch {
        return expect_kind(b.batch(vec![BatchOp::Create(sample("bat-x", 1))]).await, ErrorKind::Unsupported, "batch");
    }
    let existing = b.create(sample("bat-existing", 1)).await?;
    let victim = b.create(sample("bat-victim", 4)).await?;
    let mut stale = existing.clone();
    stale.version += 5;
    let failing = vec![
        BatchOp::Create(sample("bat-new", 2)),
        BatchOp::Delete { name: "bat-victim".into(), expected_version: None },
        BatchOp::Update(stale),
    ];
    expect_kind(b.batch(failing).await, ErrorKind::Conflict, "batch with a stale update")?;
    ensure!(b.get("bat-new").await?.is_none(), "a failed batch created an entry");
    ensure!(b.get("bat-victim").await? == Some(victim), "a failed batch deleted an entry");
    ensure!(b.get("bat-existing").await? == Some(existing.clone()), "a failed batch changed an entry");
    let mut change = existing.clone();
    change.owner = Some("zed".into());
    let results = b
        .batch(vec![
            BatchOp::Create(sample("bat-new", 2)),
            BatchOp::Update(change),
            BatchOp::Create(sample("bat-gone", 3)),
            BatchOp::Delete { name: "bat-gone".into(), expected_version: Some(1) },
        ])
        .await?;
    ensure!(results.len() == 4 && results[3].is_none(), "batch results: {results:?}");
    ensure!(results[1].as_ref().map(|m| m.version) == Some(2), "batch update result: {:?}", results[1]);
    ensure!(b.get("bat-new").await?.is_some(), "batch create missing");
    ensure!(b.get("bat-existing").await?.and_then(|m| m.owner) == Some("zed".into()), "batch update missing");
    ensure!(b.get("bat-gone").await?.is_none(), "batch delete of an entry created in the batch missing");
    Ok(())
}

/// A restore brings back exactly the backed-up catalogue.
pub async fn backup_and_restore(h: &dyn MetaHarness) -> CaseResult {
    let b = h.open().await?;
    let kept = b.create(sample("bak-kept", 1)).await?;
    let changed = b.create(sample("bak-changed", 2)).await?;
    let dir = tempfile::tempdir().map_err(|e| CaseError(format!("tempdir: {e}")))?;
    let location = dir.path().to_string_lossy().to_string();
    let id = b.backup(&location).await?;
    let mut later = changed.clone();
    later.description = Some("after the backup".into());
    b.update(later).await?;
    b.delete("bak-kept", None).await?;
    b.create(sample("bak-added", 3)).await?;
    b.restore(&id, &location).await?;
    ensure!(b.get("bak-kept").await? == Some(kept), "deleted entry not restored exactly");
    ensure!(b.get("bak-changed").await? == Some(changed.clone()), "changed entry not restored to its backed-up state");
    ensure!(b.get("bak-added").await?.is_none(), "an entry created after the backup survived the restore");
    let mut again = changed;
    again.owner = Some("after-restore".into());
    ensure!(b.update(again).await?.version == 2, "versions do not continue after a restore");
    expect_kind(b.restore("backup-does-not-exist", &location).await, ErrorKind::NotFound, "unknown backup id")?;
    expect_kind(b.restore("../../etc/passwd", &location).await, ErrorKind::InvalidArgument, "path as backup id")?;
    Ok(())
}

/// Expired entries are invisible to get and list, and their names can be reused.
pub async fn expired_entries_are_invisible(h: &dyn MetaHarness) -> CaseResult {
    let b = h.open().await?;
    let mut gone = sample("exp-gone", 1);
    gone.expires_at = Some(now_unix_secs() - 5);
    b.create(gone).await?;
    b.create(sample("exp-kept", 2)).await?;
    ensure!(b.get("exp-gone").await?.is_none(), "expired entry returned by get");
    let listed = names(&*b, ListFilter { name_prefix: Some("exp-".into()), ..Default::default() }).await?;
    ensure!(listed == ["exp-kept"], "list with an expired entry: {listed:?}");
    let reused = b.create(sample("exp-gone", 3)).await?;
    ensure!(reused.version == 1, "re-created expired name at version {}", reused.version);
    Ok(())
}

/// Health answers and stats count visible entries and operations.
pub async fn health_and_stats(h: &dyn MetaHarness) -> CaseResult {
    let b = h.open().await?;
    let health = b.health().await?;
    ensure!(health.healthy, "unhealthy: {health:?}");
    b.create(sample("st-one", 1)).await?;
    let _ = b.get("st-one").await?;
    let stats = b.stats().await?;
    ensure!(stats.collections >= 1, "stats count {} collections", stats.collections);
    ensure!(stats.operations.get("create").copied().unwrap_or(0) >= 1, "stats do not count creates: {stats:?}");
    Ok(())
}

/// A persistent backend keeps every entry across a reopen.
pub async fn reopen_preserves_entries(h: &dyn MetaHarness) -> CaseResult {
    let stored = {
        let b = h.open().await?;
        let a = b.create(sample("reo-a", 1)).await?;
        let mut change = b.create(sample("reo-b", 2)).await?;
        change.tags = vec!["moved".into()];
        let changed = b.update(change).await?;
        b.create(sample("reo-c", 3)).await?;
        b.delete("reo-c", None).await?;
        vec![a, changed]
    };
    let b = h.open().await?;
    for m in stored {
        ensure!(b.get(&m.name).await? == Some(m.clone()), "{} differs after reopen", m.name);
    }
    ensure!(b.get("reo-c").await?.is_none(), "a deleted entry came back after reopen");
    Ok(())
}

/// `import` stores entries verbatim (versions and timestamps too), replacing by name, all or none.
pub async fn import_stores_entries_verbatim(h: &dyn MetaHarness) -> CaseResult {
    let b = h.open().await?;
    b.create(sample("imp-replaced", 1)).await?;
    let mut a = sample("imp-a", 2);
    a.version = 7;
    a.created_at = 1_600_000_000_000;
    a.updated_at = 1_700_000_000_123;
    let mut replaced = sample("imp-replaced", 3);
    replaced.version = 3;
    replaced.created_at = 1_500_000_000_000;
    replaced.updated_at = 1_500_000_000_001;
    replaced.description = None;
    b.import(vec![a.clone(), replaced.clone()]).await?;
    ensure!(b.get("imp-a").await? == Some(a.clone()), "imported entry not stored verbatim");
    ensure!(b.get("imp-replaced").await? == Some(replaced.clone()), "import did not replace the entry by name");
    let mut next = a.clone();
    next.owner = Some("after-import".into());
    ensure!(b.update(next).await?.version == 8, "versions do not continue from an imported version");
    let bad = vec![sample("imp-fresh", 4), CollectionMetadata::new("imp-bad-id", "bad name", 4)];
    expect_kind(b.import(bad).await, ErrorKind::InvalidArgument, "import with an invalid entry")?;
    ensure!(b.get("imp-fresh").await?.is_none(), "a refused import stored an entry");
    Ok(())
}
