//! The backend: one MongoDB collection, every write in a transaction.

use std::time::Instant;

use async_trait::async_trait;
use mongodb::bson::{Bson, Document, doc};
use mongodb::error::{ErrorKind as MongoErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, ClientSession, Collection, IndexModel};
use proxima_core::{Error, Result, now_unix_secs};
use proxima_meta::retry::with_retries;
use proxima_meta::{
    BackendStats, BatchOp, CollectionMetadata, Health, Lease, LeaseClaim, ListFilter, ListPage, MetaCapabilities,
    MetadataBackend, OpCounters, missing, snapshot,
};

use crate::document::{from_document, to_document};
use crate::{MongoConfig, lease};

/// A catalogue in one MongoDB collection.
pub struct MongoBackend {
    config: MongoConfig,
    client: Client,
    coll: Collection<Document>,
    /// Whether the server built the text index; otherwise text filters match the
    /// `search_words` array (same semantics, multikey index).
    text_index: bool,
    /// Writer leases, one document per collection.
    leases: Collection<Document>,
    counters: OpCounters,
}

impl std::fmt::Debug for MongoBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoBackend").field("config", &self.config).finish()
    }
}

/// Translates driver errors at the boundary, keeping the driver error as source.
pub(crate) fn db_error(e: mongodb::error::Error) -> Error {
    const DUPLICATE_KEY: i32 = 11000;
    const WRITE_CONFLICT: i32 = 112;
    const ILLEGAL_OPERATION: i32 = 20;
    let code = match e.kind.as_ref() {
        MongoErrorKind::Write(WriteFailure::WriteError(w)) => Some(w.code),
        MongoErrorKind::Command(c) => Some(c.code),
        _ => None,
    };
    match (code, e.kind.as_ref()) {
        (Some(DUPLICATE_KEY), _) => Error::already_exists("a collection with that name or id exists").with_source(e),
        (Some(WRITE_CONFLICT), _) => Error::conflict("a concurrent write changed the collection").with_source(e),
        (Some(ILLEGAL_OPERATION), _) if e.to_string().contains("ransaction") => {
            Error::unsupported("this MongoDB server does not support transactions").with_source(e)
        }
        (
            _,
            MongoErrorKind::Io(_)
            | MongoErrorKind::ServerSelection { .. }
            | MongoErrorKind::ConnectionPoolCleared { .. },
        ) => Error::unavailable("MongoDB is unavailable").with_source(e),
        _ if e.contains_label("TransientTransactionError") => {
            Error::unavailable("MongoDB transaction failed transiently").with_source(e)
        }
        _ => Error::internal("MongoDB call failed").with_source(e),
    }
}

/// Documents not past their expiry.
fn visible() -> Document {
    doc! { "$or": [ { "expires_at": Bson::Null }, { "expires_at": { "$gt": now_unix_secs() as i64 } } ] }
}

fn and(mut clauses: Vec<Document>) -> Document {
    if clauses.len() == 1 {
        clauses.remove(0)
    } else {
        doc! { "$and": clauses }
    }
}

/// One step of a transaction.
enum Step {
    Op(BatchOp),
    /// Store verbatim (import, restore).
    Put(CollectionMetadata),
    /// Remove every entry (restore).
    Clear,
}

impl MongoBackend {
    /// Connects and creates the indexes.
    pub async fn open(config: MongoConfig) -> Result<Self> {
        let mut options = ClientOptions::parse(&config.uri).await.map_err(|e| {
            if matches!(e.kind.as_ref(), MongoErrorKind::InvalidArgument { .. }) {
                Error::invalid("bad MongoDB connection string").with_source(e)
            } else {
                db_error(e)
            }
        })?;
        options.server_selection_timeout = Some(config.timeout);
        options.connect_timeout = Some(config.timeout);
        let client = Client::with_options(options).map_err(db_error)?;
        let coll = client.database(&config.database).collection::<Document>(&config.collection);
        // Beside the entries, so that listings never see a lease.
        let leases = client.database(&config.database).collection::<Document>(&format!("{}_leases", config.collection));
        let mut backend = Self { config, client, coll, leases, text_index: false, counters: OpCounters::default() };
        with_retries(|| backend.create_indexes()).await?;
        backend.text_index = with_retries(|| backend.create_text_index()).await?;
        Ok(backend)
    }

    async fn create_indexes(&self) -> Result<()> {
        let unique = IndexOptions::builder().unique(true).build();
        let ttl = IndexOptions::builder().expire_after(std::time::Duration::ZERO).build();
        let indexes = vec![
            IndexModel::builder().keys(doc! { "collection_id": 1 }).options(unique).build(),
            IndexModel::builder().keys(doc! { "tags": 1 }).build(),
            IndexModel::builder().keys(doc! { "search_words": 1 }).build(),
            IndexModel::builder().keys(doc! { "owner": 1 }).build(),
            IndexModel::builder().keys(doc! { "access_pattern": 1 }).build(),
            IndexModel::builder().keys(doc! { "expires_at_date": 1 }).options(ttl).build(),
        ];
        self.coll.create_indexes(indexes).await.map(|_| ()).map_err(db_error)
    }

    /// The text index over the search words; `false` when the server has no text indexes.
    async fn create_text_index(&self) -> Result<bool> {
        const CANNOT_CREATE_INDEX: i32 = 67;
        let text = IndexOptions::builder().default_language("none".to_string()).build();
        let model = IndexModel::builder().keys(doc! { "search_text": "text" }).options(text).build();
        match self.coll.create_index(model).await {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.kind.as_ref(), MongoErrorKind::Command(c) if c.code == CANNOT_CREATE_INDEX) => {
                Ok(false)
            }
            Err(e) => Err(db_error(e)),
        }
    }

    /// Runs `steps` in one transaction with retries, counting the call.
    async fn in_transaction(&self, op: &'static str, steps: &[Step]) -> Result<Vec<Option<CollectionMetadata>>> {
        let started = std::time::Instant::now();
        let result = with_retries(|| async {
            let mut session = self.client.start_session().await.map_err(db_error)?;
            session.start_transaction().await.map_err(db_error)?;
            match self.apply_steps(&mut session, steps).await {
                Ok(out) => {
                    session.commit_transaction().await.map_err(db_error)?;
                    Ok(out)
                }
                Err(e) => {
                    let _ = session.abort_transaction().await;
                    Err(e)
                }
            }
        })
        .await;
        self.counters.record_timed(op, started, result)
    }

    async fn apply_steps(&self, s: &mut ClientSession, steps: &[Step]) -> Result<Vec<Option<CollectionMetadata>>> {
        let many = steps.len() > 1;
        let mut out = Vec::with_capacity(steps.len());
        for (i, step) in steps.iter().enumerate() {
            let result = match step {
                Step::Op(BatchOp::Create(m)) => self.create_in(s, m).await.map(Some),
                Step::Op(BatchOp::Update(m)) => self.update_in(s, m).await.map(Some),
                Step::Op(BatchOp::Delete { name, expected_version }) => {
                    self.delete_in(s, name, *expected_version).await.map(|_| None)
                }
                Step::Put(m) => self.put_in(s, m).await.map(|_| None),
                Step::Clear => self.coll.delete_many(doc! {}).session(&mut *s).await.map(|_| None).map_err(db_error),
            };
            out.push(result.map_err(|e| if many { e.with_context("operation", i) } else { e })?);
        }
        Ok(out)
    }

    async fn get_in(&self, s: &mut ClientSession, name: &str) -> Result<Option<CollectionMetadata>> {
        let filter = and(vec![doc! { "_id": name }, visible()]);
        let found = self.coll.find_one(filter).session(s).await.map_err(db_error)?;
        found.as_ref().map(from_document).transpose()
    }

    async fn create_in(&self, s: &mut ClientSession, m: &CollectionMetadata) -> Result<CollectionMetadata> {
        m.validate()?;
        // Expired entries give up their name and id.
        let expired = doc! {
            "$or": [ { "_id": &m.name }, { "collection_id": &m.id } ],
            "expires_at": { "$ne": Bson::Null, "$lte": now_unix_secs() as i64 },
        };
        self.coll.delete_many(expired).session(&mut *s).await.map_err(db_error)?;
        let stored = m.as_created();
        self.coll.insert_one(to_document(&stored)?).session(&mut *s).await.map_err(|e| match db_error(e) {
            e if e.kind() == proxima_core::ErrorKind::AlreadyExists => {
                Error::already_exists(format!("collection `{}` or id `{}` already exists", m.name, m.id)).with_source(e)
            }
            e => e,
        })?;
        Ok(stored)
    }

    async fn update_in(&self, s: &mut ClientSession, m: &CollectionMetadata) -> Result<CollectionMetadata> {
        m.validate()?;
        let current = self.get_in(s, &m.name).await?.ok_or_else(|| missing(&m.name))?;
        let stored = m.as_update_of(&current)?;
        let filter = doc! { "_id": &m.name, "version": current.version as i64 };
        let replaced = self.coll.replace_one(filter, to_document(&stored)?).session(&mut *s).await.map_err(db_error)?;
        if replaced.matched_count == 0 {
            return Err(Error::conflict(format!("collection `{}` changed concurrently", m.name)));
        }
        Ok(stored)
    }

    async fn delete_in(&self, s: &mut ClientSession, name: &str, expected: Option<u64>) -> Result<()> {
        let current = self.get_in(s, name).await?.ok_or_else(|| missing(name))?;
        current.check_delete(expected)?;
        let filter = doc! { "_id": name, "version": current.version as i64 };
        let deleted = self.coll.delete_one(filter).session(&mut *s).await.map_err(db_error)?;
        if deleted.deleted_count == 0 {
            return Err(Error::conflict(format!("collection `{name}` changed concurrently")));
        }
        Ok(())
    }

    async fn put_in(&self, s: &mut ClientSession, m: &CollectionMetadata) -> Result<()> {
        m.validate()?;
        let same = doc! { "$or": [ { "_id": &m.name }, { "collection_id": &m.id } ] };
        self.coll.delete_many(same).session(&mut *s).await.map_err(db_error)?;
        self.coll.insert_one(to_document(m)?).session(&mut *s).await.map(|_| ()).map_err(db_error)
    }

    fn list_filter(&self, filter: &ListFilter) -> Document {
        let mut clauses = vec![visible()];
        if let Some(token) = &filter.page_token {
            clauses.push(doc! { "_id": { "$gt": token } });
        }
        if let Some(prefix) = &filter.name_prefix {
            let escaped: String = prefix
                .chars()
                .flat_map(|c| {
                    let special = "\\^$.|?*+()[]{}".contains(c);
                    special.then_some('\\').into_iter().chain(std::iter::once(c))
                })
                .collect();
            clauses.push(doc! { "_id": { "$regex": format!("^{escaped}") } });
        }
        if let Some(owner) = &filter.owner {
            clauses.push(doc! { "owner": owner });
        }
        if let Some(pattern) = filter.access_pattern {
            clauses.push(doc! { "access_pattern": pattern.as_str() });
        }
        if !filter.tags_any.is_empty() {
            clauses.push(doc! { "tags": { "$in": &filter.tags_any } });
        }
        if !filter.tags_all.is_empty() {
            clauses.push(doc! { "tags": { "$all": &filter.tags_all } });
        }
        let terms = filter.terms();
        if !terms.is_empty() && self.text_index {
            // Quoted terms are ANDed by MongoDB's text search.
            let search: Vec<String> = terms.iter().map(|t| format!("\"{t}\"")).collect();
            clauses.push(doc! { "$text": { "$search": search.join(" ") } });
        } else if !terms.is_empty() {
            clauses.push(doc! { "search_words": { "$all": terms } });
        }
        and(clauses)
    }
}

#[async_trait]
impl MetadataBackend for MongoBackend {
    fn scheme(&self) -> &'static str {
        crate::SCHEME
    }

    fn capabilities(&self) -> MetaCapabilities {
        MetaCapabilities {
            persistent: true,
            atomic_batch: true,
            // Only a server that accepted the text index searches natively.
            native_text_search: self.text_index,
            native_ttl: true,
            shared: true,
        }
    }

    async fn create(&self, metadata: CollectionMetadata) -> Result<CollectionMetadata> {
        stored(self.in_transaction("create", &[Step::Op(BatchOp::Create(metadata))]).await?)
    }

    async fn get(&self, name: &str) -> Result<Option<CollectionMetadata>> {
        let filter = and(vec![doc! { "_id": name }, visible()]);
        let started = std::time::Instant::now();
        let result = with_retries(|| async {
            let found = self.coll.find_one(filter.clone()).await.map_err(db_error)?;
            found.as_ref().map(from_document).transpose()
        })
        .await;
        self.counters.record_timed("get", started, result)
    }

    async fn update(&self, metadata: CollectionMetadata) -> Result<CollectionMetadata> {
        stored(self.in_transaction("update", &[Step::Op(BatchOp::Update(metadata))]).await?)
    }

    async fn claim_lease(&self, claim: LeaseClaim) -> Result<Lease> {
        let started = std::time::Instant::now();
        let result = with_retries(|| lease::claim(&self.leases, &claim)).await;
        self.counters.record_timed("claim_lease", started, result)
    }

    async fn lease(&self, collection: &str) -> Result<Option<Lease>> {
        with_retries(|| lease::get(&self.leases, collection)).await
    }

    async fn release_lease(&self, held: &Lease) -> Result<()> {
        with_retries(|| lease::release(&self.leases, held)).await
    }

    async fn list_leases(&self, prefix: &str) -> Result<Vec<Lease>> {
        with_retries(|| lease::list(&self.leases, prefix)).await
    }

    async fn delete(&self, name: &str, expected_version: Option<u64>) -> Result<()> {
        let step = Step::Op(BatchOp::Delete { name: name.to_string(), expected_version });
        self.in_transaction("delete", &[step]).await.map(|_| ())
    }

    async fn list(&self, filter: &ListFilter) -> Result<ListPage> {
        let limit = filter.page_size()?;
        let query = self.list_filter(filter);
        let started = std::time::Instant::now();
        let result = with_retries(|| async {
            let mut cursor = self
                .coll
                .find(query.clone())
                .sort(doc! { "_id": 1 })
                .limit(limit as i64 + 1)
                .await
                .map_err(db_error)?;
            let mut items = Vec::new();
            while cursor.advance().await.map_err(db_error)? {
                let d = cursor.deserialize_current().map_err(db_error)?;
                items.push(from_document(&d)?);
            }
            Ok(ListPage::from_overfetch(items, limit))
        })
        .await;
        self.counters.record_timed("list", started, result)
    }

    async fn batch(&self, ops: Vec<BatchOp>) -> Result<Vec<Option<CollectionMetadata>>> {
        let steps: Vec<Step> = ops.into_iter().map(Step::Op).collect();
        self.in_transaction("batch", &steps).await
    }

    async fn import(&self, entries: Vec<CollectionMetadata>) -> Result<()> {
        let steps: Vec<Step> = entries.into_iter().map(Step::Put).collect();
        self.in_transaction("import", &steps).await.map(|_| ())
    }

    async fn backup(&self, location: &str) -> Result<String> {
        let started = std::time::Instant::now();
        let result = with_retries(|| async {
            // One snapshot: the reads run in a transaction.
            let mut session = self.client.start_session().await.map_err(db_error)?;
            session.start_transaction().await.map_err(db_error)?;
            let mut cursor =
                self.coll.find(doc! {}).sort(doc! { "_id": 1 }).session(&mut session).await.map_err(db_error)?;
            let mut entries = Vec::new();
            while let Some(d) = cursor.next(&mut session).await {
                entries.push(from_document(&d.map_err(db_error)?)?);
            }
            drop(cursor);
            session.commit_transaction().await.map_err(db_error)?;
            Ok(entries)
        })
        .await
        .and_then(|entries| snapshot::write_new(location, entries));
        self.counters.record_timed("backup", started, result)
    }

    async fn restore(&self, backup_id: &str, location: &str) -> Result<()> {
        let entries = self.counters.record("restore", snapshot::read(location, backup_id))?;
        let steps: Vec<Step> = std::iter::once(Step::Clear).chain(entries.into_iter().map(Step::Put)).collect();
        self.in_transaction("restore", &steps).await.map(|_| ())
    }

    async fn health(&self) -> Result<Health> {
        let start = Instant::now();
        let db = self.client.database(&self.config.database);
        let info = db.run_command(doc! { "buildInfo": 1 }).await.map_err(db_error)?;
        let version = info.get_str("version").unwrap_or("unknown").to_string();
        Ok(Health {
            healthy: true,
            latency_ms: start.elapsed().as_secs_f64() * 1e3,
            detail: format!("MongoDB {version}"),
        })
    }

    async fn stats(&self) -> Result<BackendStats> {
        let count = self.coll.count_documents(visible()).await.map_err(db_error)?;
        Ok(self.counters.stats(count))
    }
}

fn stored(mut out: Vec<Option<CollectionMetadata>>) -> Result<CollectionMetadata> {
    out.pop().flatten().ok_or_else(|| Error::internal("a write produced no entry"))
}
