//! Versioned migrations, recorded in `<prefix>schema_migrations`.

use tokio_postgres::Client;

/// Migration `i` takes the schema from version `i` to `i + 1`; `{p}` is the table prefix. Append only.
pub(crate) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE {p}collections (
    name               TEXT PRIMARY KEY,
    id                 TEXT NOT NULL UNIQUE,
    dimension          INTEGER NOT NULL,
    distance_metric    TEXT NOT NULL,
    indexing_algorithm TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    vector_count       BIGINT NOT NULL,
    total_size_bytes   BIGINT NOT NULL,
    config             JSONB NOT NULL,
    access_pattern     TEXT NOT NULL,
    description        TEXT,
    tags               TEXT[] NOT NULL,
    owner              TEXT,
    version            BIGINT NOT NULL,
    expires_at         BIGINT,
    search_text        TEXT NOT NULL
);
CREATE INDEX {p}collections_owner ON {p}collections (owner);
CREATE INDEX {p}collections_access_pattern ON {p}collections (access_pattern);
CREATE INDEX {p}collections_tags ON {p}collections USING GIN (tags);
CREATE INDEX {p}collections_search ON {p}collections USING GIN (to_tsvector('simple', search_text));
"#,
    r#"
CREATE TABLE {p}leases (
    collection    TEXT PRIMARY KEY,
    holder        TEXT NOT NULL,
    address       TEXT NOT NULL,
    epoch         BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
"#,
];

/// Applies the pending ones of `migrations` (each with `{p}` for `prefix`), recorded
/// in table `tracking`, in one transaction under an advisory lock; returns the
/// version found before.
pub async fn migrate(
    client: &mut Client,
    tracking: &str,
    migrations: &[&str],
    prefix: &str,
) -> Result<i64, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    // One opener at a time; the lock ends with the transaction.
    tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&tracking]).await?;
    tx.batch_execute(&format!("CREATE TABLE IF NOT EXISTS {tracking} (version BIGINT PRIMARY KEY)")).await?;
    let found: i64 = tx.query_one(&format!("SELECT COALESCE(MAX(version), 0) FROM {tracking}"), &[]).await?.get(0);
    for (i, sql) in migrations.iter().enumerate().skip(found as usize) {
        tx.batch_execute(&sql.replace("{p}", prefix)).await?;
        tx.execute(&format!("INSERT INTO {tracking} (version) VALUES ($1)"), &[&(i as i64 + 1)]).await?;
    }
    tx.commit().await?;
    Ok(found)
}

/// The schema version this build writes.
pub(crate) const CURRENT: i64 = MIGRATIONS.len() as i64;
