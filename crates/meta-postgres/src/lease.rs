//! Writer leases in `<prefix>leases`: one row per collection, taken or
//! renewed by a single conditional statement, so concurrent claimants
//! serialise on the row and exactly one wins.

use proxima_core::Result;
use proxima_meta::{Lease, LeaseClaim, lost};
use tokio_postgres::{GenericClient, Row};

use crate::sql::db_error;

/// Applies `claim` (the rule of [`LeaseClaim::apply`], in SQL).
pub(crate) async fn claim<C: GenericClient>(c: &C, table: &str, claim: &LeaseClaim) -> Result<Lease> {
    let expires = claim.now_ms.saturating_add(claim.duration_ms) as i64;
    let row = match claim.renewing {
        None => {
            let sql = format!(
                "INSERT INTO {table} AS l (collection, holder, address, epoch, expires_at_ms) \
                 VALUES ($1, $2, $3, 1, $4) \
                 ON CONFLICT (collection) DO UPDATE SET holder = EXCLUDED.holder, address = EXCLUDED.address, \
                 epoch = l.epoch + 1, expires_at_ms = EXCLUDED.expires_at_ms \
                 WHERE l.holder = EXCLUDED.holder OR l.expires_at_ms <= $5 \
                 RETURNING collection, holder, address, epoch, expires_at_ms"
            );
            let now = claim.now_ms as i64;
            c.query_opt(&sql, &[&claim.collection, &claim.holder, &claim.address, &expires, &now]).await
        }
        Some(epoch) => {
            let sql = format!(
                "UPDATE {table} SET address = $3, expires_at_ms = $4 \
                 WHERE collection = $1 AND holder = $2 AND epoch = $5 \
                 RETURNING collection, holder, address, epoch, expires_at_ms"
            );
            let epoch = epoch as i64;
            c.query_opt(&sql, &[&claim.collection, &claim.holder, &claim.address, &expires, &epoch]).await
        }
    };
    if let Some(row) = row.map_err(db_error)? {
        return Ok(from_row(&row));
    }
    let now = get(c, table, &claim.collection).await?;
    Err(claim.refused(now.as_ref()))
}

/// The stored lease of `collection`.
pub(crate) async fn get<C: GenericClient>(c: &C, table: &str, collection: &str) -> Result<Option<Lease>> {
    let sql = format!("SELECT collection, holder, address, epoch, expires_at_ms FROM {table} WHERE collection = $1");
    Ok(c.query_opt(&sql, &[&collection]).await.map_err(db_error)?.as_ref().map(from_row))
}

/// Every stored lease whose collection starts with `prefix`, by name.
pub(crate) async fn list<C: GenericClient>(c: &C, table: &str, prefix: &str) -> Result<Vec<Lease>> {
    // `left` rather than LIKE: a prefix may hold LIKE's wildcards (`_`).
    let sql = format!(
        "SELECT collection, holder, address, epoch, expires_at_ms FROM {table} \
         WHERE left(collection, char_length($1)) = $1 ORDER BY collection"
    );
    Ok(c.query(&sql, &[&prefix]).await.map_err(db_error)?.iter().map(from_row).collect())
}

/// Expires `lease` now if it is still held so; its epoch stays.
pub(crate) async fn release<C: GenericClient>(c: &C, table: &str, lease: &Lease) -> Result<()> {
    let sql = format!("UPDATE {table} SET expires_at_ms = 0 WHERE collection = $1 AND holder = $2 AND epoch = $3");
    let epoch = lease.epoch as i64;
    if c.execute(&sql, &[&lease.collection, &lease.holder, &epoch]).await.map_err(db_error)? == 1 {
        return Ok(());
    }
    Err(lost(&lease.collection, lease.epoch, get(c, table, &lease.collection).await?.as_ref()))
}

fn from_row(row: &Row) -> Lease {
    Lease {
        collection: row.get(0),
        holder: row.get(1),
        address: row.get(2),
        epoch: row.get::<_, i64>(3) as u64,
        expires_at_ms: row.get::<_, i64>(4) as u64,
    }
}
