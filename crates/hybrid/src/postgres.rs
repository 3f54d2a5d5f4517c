//! The PostgreSQL store: an edges table (ids and types in byte order, so the
//! server's step order is ours), traversal by one recursive query, and each
//! profile a JSON row changed in a transaction that also appends its events.

use std::collections::HashMap;

use deadpool_postgres::{Object, Pool};
use proxima_core::{Error, Result};
use proxima_meta_postgres::{PostgresConfig, bounded, checkout, db_error, migrate};
use tokio_postgres::types::Json;

use crate::edge::{Direction, Edge, EdgeKey};
use crate::policy::{ResolvedEvent, UserPolicy, UserProfile};
use crate::store::RelationStore;
use crate::traverse::{Neighbour, Step, Traversal, sort_neighbours};

/// Migration `i` takes the schema from version `i` to `i + 1`; `{p}` is the table prefix. Append only.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE {p}edges (
    collection TEXT NOT NULL,
    from_id    TEXT COLLATE "C" NOT NULL,
    to_id      TEXT COLLATE "C" NOT NULL,
    type       TEXT COLLATE "C" NOT NULL,
    weight     REAL NOT NULL,
    PRIMARY KEY (collection, from_id, to_id, type)
);
CREATE INDEX {p}edges_into ON {p}edges (collection, to_id);
CREATE TABLE {p}user_profiles (
    user_name TEXT PRIMARY KEY,
    profile   JSONB NOT NULL
);
CREATE TABLE {p}user_events (
    seq       BIGSERIAL PRIMARY KEY,
    user_name TEXT NOT NULL,
    event     JSONB NOT NULL
);
"#];

/// Rows per statement when a restore writes a collection's edges.
const INSERT_CHUNK: usize = 5_000;

/// Relations and profiles in PostgreSQL.
pub struct PostgresStore {
    pool: Pool,
    prefix: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("prefix", &self.prefix).finish()
    }
}

/// The candidate steps of `w.id` (a row of the walk, or of the ids asked
/// about): `$1` collection, `$3`/`$4` follow out/in, `$5` types (empty: all),
/// `$6` fan-out.
fn steps_sql(p: &str, node: &str) -> String {
    format!(
        "SELECT nb, type, weight FROM (
            SELECT to_id AS nb, type, weight FROM {p}edges
             WHERE $3 AND collection = $1 AND from_id = {node} AND (cardinality($5::text[]) = 0 OR type = ANY($5))
            UNION ALL
            SELECT from_id, type, weight FROM {p}edges
             WHERE $4 AND collection = $1 AND to_id = {node} AND (cardinality($5::text[]) = 0 OR type = ANY($5))
         ) c ORDER BY weight DESC, nb COLLATE \"C\", type COLLATE \"C\" LIMIT $6"
    )
}

impl PostgresStore {
    /// The connection-string schemes.
    pub const SCHEMES: [&'static str; 2] = ["postgresql", "postgres"];

    /// Connects (`postgresql://...`, the catalogue's parameters, e.g.
    /// `table_prefix`) and applies pending migrations.
    pub async fn open_uri(url: &str) -> Result<Self> {
        Self::open(PostgresConfig::from_uri(url)?).await
    }

    /// Connects and applies pending migrations.
    pub async fn open(config: PostgresConfig) -> Result<Self> {
        let store = Self { pool: config.pool()?, prefix: config.table_prefix.clone() };
        let mut client = store.client().await?;
        let tracking = format!("{}relations_migrations", store.prefix);
        let found = migrate(&mut client, &tracking, MIGRATIONS, &store.prefix).await.map_err(db_error)?;
        if found > MIGRATIONS.len() as i64 {
            return Err(Error::unsupported(format!(
                "the relations tables have schema version {found}; this build knows up to {}",
                MIGRATIONS.len()
            )));
        }
        Ok(store)
    }

    async fn client(&self) -> Result<Object> {
        checkout(&self.pool).await
    }

    async fn insert_edges(
        tx: &tokio_postgres::Transaction<'_>,
        p: &str,
        collection: &str,
        edges: &[Edge],
    ) -> Result<()> {
        for chunk in edges.chunks(INSERT_CHUNK) {
            let from: Vec<&str> = chunk.iter().map(|e| e.from.as_str()).collect();
            let to: Vec<&str> = chunk.iter().map(|e| e.to.as_str()).collect();
            let ty: Vec<&str> = chunk.iter().map(|e| e.ty.as_str()).collect();
            let weight: Vec<f32> = chunk.iter().map(|e| e.weight).collect();
            tx.execute(
                &format!(
                    "INSERT INTO {p}edges (collection, from_id, to_id, type, weight)
                     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::real[])
                     ON CONFLICT (collection, from_id, to_id, type) DO UPDATE SET weight = EXCLUDED.weight"
                ),
                &[&collection, &from, &to, &ty, &weight],
            )
            .await
            .map_err(db_error)?;
        }
        Ok(())
    }

    /// Applies `change` to the user's profile in one transaction (row locked),
    /// appending `events` beside it.
    async fn change_profile(
        &self,
        user: &str,
        events: &[ResolvedEvent],
        change: impl FnOnce(&mut UserProfile),
    ) -> Result<UserProfile> {
        let p = &self.prefix;
        let mut client = self.client().await?;
        bounded(async {
            let tx = client.transaction().await.map_err(db_error)?;
            tx.execute(
                &format!("INSERT INTO {p}user_profiles (user_name, profile) VALUES ($1, $2) ON CONFLICT DO NOTHING"),
                &[&user, &Json(UserProfile::default())],
            )
            .await
            .map_err(db_error)?;
            let row = tx
                .query_one(&format!("SELECT profile FROM {p}user_profiles WHERE user_name = $1 FOR UPDATE"), &[&user])
                .await
                .map_err(db_error)?;
            let Json(mut profile): Json<UserProfile> = row.try_get(0).map_err(corrupt_profile)?;
            change(&mut profile);
            tx.execute(
                &format!("UPDATE {p}user_profiles SET profile = $2 WHERE user_name = $1"),
                &[&user, &Json(&profile)],
            )
            .await
            .map_err(db_error)?;
            for event in events {
                tx.execute(
                    &format!("INSERT INTO {p}user_events (user_name, event) VALUES ($1, $2)"),
                    &[&user, &Json(event)],
                )
                .await
                .map_err(db_error)?;
            }
            tx.commit().await.map_err(db_error)?;
            Ok(profile)
        })
        .await
    }
}

fn corrupt_profile(e: tokio_postgres::Error) -> Error {
    Error::corrupted("a stored user profile does not decode").with_source(e)
}

/// The last edge of each key wins, as when they are applied one by one.
fn last_per_key(edges: Vec<Edge>) -> Vec<Edge> {
    let mut at: HashMap<EdgeKey, usize> = HashMap::new();
    let mut kept: Vec<Edge> = Vec::with_capacity(edges.len());
    for edge in edges {
        match at.get(&edge.key()) {
            Some(&i) => kept[i] = edge,
            None => {
                at.insert(edge.key(), kept.len());
                kept.push(edge);
            }
        }
    }
    kept
}

#[async_trait::async_trait]
impl RelationStore for PostgresStore {
    fn scheme(&self) -> &'static str {
        Self::SCHEMES[0]
    }

    async fn upsert_edges(&self, collection: &str, edges: Vec<Edge>) -> Result<()> {
        let edges = last_per_key(edges);
        let mut client = self.client().await?;
        bounded(async {
            let tx = client.transaction().await.map_err(db_error)?;
            Self::insert_edges(&tx, &self.prefix, collection, &edges).await?;
            tx.commit().await.map_err(db_error)
        })
        .await
    }

    async fn delete_edges(&self, collection: &str, keys: Vec<EdgeKey>) -> Result<u64> {
        let p = &self.prefix;
        let from: Vec<&str> = keys.iter().map(|k| k.from.as_str()).collect();
        let to: Vec<&str> = keys.iter().map(|k| k.to.as_str()).collect();
        let ty: Vec<&str> = keys.iter().map(|k| k.ty.as_str()).collect();
        let client = self.client().await?;
        bounded(async {
            client
                .execute(
                    &format!(
                        "DELETE FROM {p}edges e USING unnest($2::text[], $3::text[], $4::text[]) AS k(f, t, ty)
                         WHERE e.collection = $1 AND e.from_id = k.f AND e.to_id = k.t AND e.type = k.ty"
                    ),
                    &[&collection, &from, &to, &ty],
                )
                .await
                .map_err(db_error)
        })
        .await
    }

    async fn remove_records(&self, collection: &str, ids: Vec<String>) -> Result<u64> {
        let p = &self.prefix;
        let client = self.client().await?;
        bounded(async {
            client
                .execute(
                    &format!("DELETE FROM {p}edges WHERE collection = $1 AND (from_id = ANY($2) OR to_id = ANY($2))"),
                    &[&collection, &ids],
                )
                .await
                .map_err(db_error)
        })
        .await
    }

    async fn replace_collection(&self, collection: &str, edges: Vec<Edge>) -> Result<()> {
        let edges = last_per_key(edges);
        let p = &self.prefix;
        let mut client = self.client().await?;
        bounded(async {
            let tx = client.transaction().await.map_err(db_error)?;
            tx.execute(&format!("DELETE FROM {p}edges WHERE collection = $1"), &[&collection])
                .await
                .map_err(db_error)?;
            Self::insert_edges(&tx, p, collection, &edges).await?;
            tx.commit().await.map_err(db_error)
        })
        .await
    }

    async fn export_collection(&self, collection: &str) -> Result<Vec<Edge>> {
        let p = &self.prefix;
        let client = self.client().await?;
        let rows = bounded(async {
            client
                .query(
                    &format!(
                        "SELECT from_id, to_id, type, weight FROM {p}edges WHERE collection = $1
                         ORDER BY from_id, to_id, type"
                    ),
                    &[&collection],
                )
                .await
                .map_err(db_error)
        })
        .await?;
        Ok(rows
            .iter()
            .map(|r| Edge::new(r.get::<_, String>(0), r.get::<_, String>(1), r.get::<_, String>(2), r.get(3)))
            .collect())
    }

    async fn edge_count(&self, collection: &str) -> Result<u64> {
        let p = &self.prefix;
        let client = self.client().await?;
        let row = bounded(async {
            client
                .query_one(&format!("SELECT count(*) FROM {p}edges WHERE collection = $1"), &[&collection])
                .await
                .map_err(db_error)
        })
        .await?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn traverse(&self, collection: &str, traversal: &Traversal) -> Result<Vec<Neighbour>> {
        let p = &self.prefix;
        // Simple paths only (`NOT nb = ANY(path)`); the best per node is taken after.
        let sql = format!(
            "WITH RECURSIVE walk(id, score, depth, path) AS (
                SELECT s COLLATE \"C\", 1.0::float8, 0, ARRAY[s COLLATE \"C\"] FROM unnest($2::text[]) AS s
                UNION ALL
                SELECT n.nb, w.score * n.weight::float8, w.depth + 1, w.path || n.nb
                  FROM walk w CROSS JOIN LATERAL ({steps}) n
                 WHERE w.depth < $7 AND NOT n.nb = ANY(w.path)
             )
             SELECT DISTINCT ON (id) id, score, depth FROM walk
              WHERE depth > 0 AND NOT id = ANY($2)
              ORDER BY id, score DESC, depth",
            steps = steps_sql(p, "w.id"),
        );
        let (out, into) = (traversal.direction.follows_out(), traversal.direction.follows_in());
        let (fan_out, depth) = (traversal.fan_out as i64, i32::from(traversal.depth));
        let client = self.client().await?;
        let rows = bounded(async {
            client
                .query(&sql, &[&collection, &traversal.start_ids, &out, &into, &traversal.types, &fan_out, &depth])
                .await
                .map_err(db_error)
        })
        .await?;
        let mut found: Vec<Neighbour> =
            rows.iter().map(|r| Neighbour { id: r.get(0), score: r.get(1), depth: r.get::<_, i32>(2) as u8 }).collect();
        sort_neighbours(&mut found);
        Ok(found)
    }

    async fn steps_of(
        &self,
        collection: &str,
        ids: &[String],
        types: &[String],
        direction: Direction,
        fan_out: usize,
    ) -> Result<Vec<Vec<Step>>> {
        let sql = format!(
            "SELECT w.ord, n.nb, n.type, n.weight
               FROM unnest($2::text[]) WITH ORDINALITY AS w(id, ord) CROSS JOIN LATERAL ({steps}) n
              ORDER BY w.ord, n.weight DESC, n.nb COLLATE \"C\", n.type COLLATE \"C\"",
            steps = steps_sql(&self.prefix, "w.id"),
        );
        let (out, into) = (direction.follows_out(), direction.follows_in());
        let client = self.client().await?;
        let rows = bounded(async {
            client.query(&sql, &[&collection, &ids, &out, &into, &types, &(fan_out as i64)]).await.map_err(db_error)
        })
        .await?;
        let mut steps = vec![Vec::new(); ids.len()];
        for row in rows {
            let ord = row.get::<_, i64>(0) as usize - 1;
            steps[ord].push(Step { id: row.get(1), ty: row.get(2), weight: row.get(3) });
        }
        Ok(steps)
    }

    async fn profile(&self, user: &str) -> Result<Option<UserProfile>> {
        let p = &self.prefix;
        let client = self.client().await?;
        let row = bounded(async {
            client
                .query_opt(&format!("SELECT profile FROM {p}user_profiles WHERE user_name = $1"), &[&user])
                .await
                .map_err(db_error)
        })
        .await?;
        row.map(|r| r.try_get::<_, Json<UserProfile>>(0).map(|j| j.0).map_err(corrupt_profile)).transpose()
    }

    async fn put_policy(&self, user: &str, policy: UserPolicy) -> Result<UserProfile> {
        self.change_profile(user, &[], |profile| profile.set_policy(policy)).await
    }

    async fn record_events(&self, user: &str, events: Vec<ResolvedEvent>) -> Result<UserProfile> {
        self.change_profile(user, &events, |profile| events.iter().for_each(|e| profile.learn(e))).await
    }
}
