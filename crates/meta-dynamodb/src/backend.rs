//! The backend: one table, every write one `TransactWriteItems`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    KeysAndAttributes, Projection, ProjectionType, Put, ScalarAttributeType, TableStatus, TransactWriteItem,
};
use proxima_core::{Error, Result, now_unix_secs};
use proxima_meta::retry::with_retries;
use proxima_meta::{
    BackendStats, BatchOp, Catalog, Change, CollectionMetadata, Health, Lease, LeaseClaim, ListFilter, ListPage,
    MetaCapabilities, MetadataBackend, OpCounters, snapshot,
};

use crate::items::{
    ENTITY, Item, METADATA, entry_item, entry_pk, from_entry, get_s, key, n, name_item, name_pk, s, tag_items, tag_sk,
};
use crate::{DynamoConfig, lease};

/// DynamoDB's limit on items in one transaction.
const MAX_TRANSACTION_ITEMS: usize = 100;

/// A catalogue in one DynamoDB table.
pub struct DynamoBackend {
    config: DynamoConfig,
    client: Client,
    counters: OpCounters,
}

impl std::fmt::Debug for DynamoBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoBackend").field("config", &self.config).finish()
    }
}

/// Translates SDK errors at the boundary, keeping the SDK error as source.
pub(crate) fn sdk_error<E, R>(what: &str, e: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let retryable_code = matches!(
        e.code(),
        Some(
            "ThrottlingException"
                | "ProvisionedThroughputExceededException"
                | "RequestLimitExceeded"
                | "InternalServerError"
        )
    );
    match &e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            Error::unavailable(format!("DynamoDB {what}: unreachable")).with_source(e)
        }
        _ if retryable_code => Error::unavailable(format!("DynamoDB {what}: throttled")).with_source(e),
        _ if e.code() == Some("ResourceNotFoundException") => {
            Error::not_found(format!("DynamoDB {what}: table not found")).with_source(e)
        }
        _ if e.code() == Some("TransactionConflictException") => {
            Error::conflict(format!("DynamoDB {what}: a concurrent transaction touched the same items")).with_source(e)
        }
        _ => Error::internal(format!("DynamoDB {what} failed: {}", e.message().unwrap_or("no message"))).with_source(e),
    }
}

/// One write of a transaction, with the condition that protects it.
#[derive(Debug, Clone)]
enum Write {
    Put { item: Item, condition: Option<Condition> },
    Delete { key: Item, condition: Option<Condition> },
}

#[derive(Debug, Clone)]
struct Condition {
    expression: &'static str,
    values: HashMap<String, AttributeValue>,
    /// A failure means "already exists" rather than "changed concurrently".
    on_create: bool,
}

fn absent() -> Condition {
    Condition { expression: "attribute_not_exists(pk)", values: HashMap::new(), on_create: true }
}

fn at_version(version: u64) -> Condition {
    Condition { expression: "version = :v", values: HashMap::from([(":v".to_string(), n(version))]), on_create: false }
}

fn owned_by(id: &str) -> Condition {
    Condition {
        expression: "collection_id = :id",
        values: HashMap::from([(":id".to_string(), s(id))]),
        on_create: false,
    }
}

fn item_key(item: &Item) -> (String, String) {
    let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    (text("pk"), text("sk"))
}

/// The writes that take the stored entries `before` to `after`, one per item:
/// a put replacing a delete of the same item keeps the delete's condition.
fn plan_writes(
    before: &HashMap<String, CollectionMetadata>,
    after: &BTreeMap<String, Option<CollectionMetadata>>,
) -> Vec<Write> {
    let mut writes: Vec<((String, String), Write)> = Vec::new();
    let mut add = |w: Write| {
        let k = match &w {
            Write::Put { item, .. } => item_key(item),
            Write::Delete { key, .. } => item_key(key),
        };
        match writes.iter_mut().find(|(existing, _)| *existing == k) {
            Some((_, slot)) => {
                let kept = match slot {
                    Write::Put { condition, .. } | Write::Delete { condition, .. } => condition.clone(),
                };
                *slot = match w {
                    Write::Put { item, condition } => Write::Put { item, condition: kept.or(condition) },
                    Write::Delete { key, condition } => Write::Delete { key, condition: kept.or(condition) },
                };
            }
            None => writes.push((k, w)),
        }
    };
    let delete_tags = |b: &CollectionMetadata, keep: &[String]| -> Vec<Write> {
        b.tags
            .iter()
            .filter(|t| !keep.contains(t))
            .map(|t| Write::Delete { key: key(entry_pk(&b.id), tag_sk(t)), condition: None })
            .collect()
    };
    for (name, a) in after {
        match (before.get(name), a) {
            (None, None) => {}
            (Some(b), Some(a)) if b == a => {}
            (None, Some(a)) => {
                add(Write::Put { item: entry_item(a), condition: Some(absent()) });
                add(Write::Put { item: name_item(a), condition: Some(absent()) });
                tag_items(a).into_iter().for_each(|item| add(Write::Put { item, condition: None }));
            }
            (Some(b), None) => {
                add(Write::Delete {
                    key: key(entry_pk(&b.id), METADATA.into()),
                    condition: Some(at_version(b.version)),
                });
                add(Write::Delete { key: key(name_pk(name), METADATA.into()), condition: Some(owned_by(&b.id)) });
                delete_tags(b, &[]).into_iter().for_each(&mut add);
            }
            (Some(b), Some(a)) => {
                if b.id == a.id {
                    add(Write::Put { item: entry_item(a), condition: Some(at_version(b.version)) });
                    delete_tags(b, &a.tags).into_iter().for_each(&mut add);
                } else {
                    add(Write::Delete {
                        key: key(entry_pk(&b.id), METADATA.into()),
                        condition: Some(at_version(b.version)),
                    });
                    delete_tags(b, &[]).into_iter().for_each(&mut add);
                    add(Write::Put { item: entry_item(a), condition: Some(absent()) });
                }
                add(Write::Put { item: name_item(a), condition: Some(owned_by(&b.id)) });
                tag_items(a).into_iter().for_each(|item| add(Write::Put { item, condition: None }));
            }
        }
    }
    writes.into_iter().map(|(_, w)| w).collect()
}

impl DynamoBackend {
    /// Connects and, unless told not to, creates the table and its indexes.
    pub async fn open(config: DynamoConfig) -> Result<Self> {
        let key_id = config.access_key_id.clone().or_else(|| std::env::var("AWS_ACCESS_KEY_ID").ok());
        let secret = config.secret_access_key.clone().or_else(|| std::env::var("AWS_SECRET_ACCESS_KEY").ok());
        let (Some(key_id), Some(secret)) = (key_id, secret) else {
            return Err(Error::invalid(
                "DynamoDB credentials missing: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            ));
        };
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_timeout(Duration::from_secs(15))
            .build();
        let mut builder = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(config.region.clone()))
            .credentials_provider(Credentials::new(key_id, secret, None, None, "proxima"))
            .timeout_config(timeouts)
            // Our own bounded retries (proxima_meta::retry) decide what is retryable.
            .retry_config(RetryConfig::disabled());
        builder.set_endpoint_url(config.endpoint.clone());
        let sdk_config = builder.build();
        let backend = Self { client: Client::from_conf(sdk_config), config, counters: OpCounters::default() };
        if backend.config.create_table {
            with_retries(|| backend.ensure_table()).await?;
        }
        Ok(backend)
    }

    async fn ensure_table(&self) -> Result<()> {
        let table = &self.config.table;
        match self.client.describe_table().table_name(table).send().await {
            Ok(_) => return self.wait_active().await,
            Err(e) if e.code() == Some("ResourceNotFoundException") => {}
            Err(e) => return Err(sdk_error("describe table", e)),
        }
        let build = |e: aws_sdk_dynamodb::error::BuildError| Error::internal(format!("bad table definition: {e}"));
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build)
        };
        let key_el = |name: &str, kind: KeyType| {
            KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(build)
        };
        let gsi = |index: &str, hash: &str| -> Result<GlobalSecondaryIndex> {
            GlobalSecondaryIndex::builder()
                .index_name(index)
                .key_schema(key_el(hash, KeyType::Hash)?)
                .key_schema(key_el("name", KeyType::Range)?)
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .map_err(build)
        };
        let created = self
            .client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key_el("pk", KeyType::Hash)?)
            .key_schema(key_el("sk", KeyType::Range)?)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("sk")?)
            .attribute_definitions(attr("entity")?)
            .attribute_definitions(attr("name")?)
            .attribute_definitions(attr("owner")?)
            .attribute_definitions(attr("access_pattern")?)
            .attribute_definitions(attr("tag")?)
            .global_secondary_indexes(gsi("by_name", "entity")?)
            .global_secondary_indexes(gsi("by_owner", "owner")?)
            .global_secondary_indexes(gsi("by_access_pattern", "access_pattern")?)
            .global_secondary_indexes(gsi("by_tag", "tag")?)
            .send()
            .await;
        match created {
            Ok(_) => {}
            // Another opener created it first.
            Err(e) if e.code() == Some("ResourceInUseException") => {}
            Err(e) => return Err(sdk_error("create table", e)),
        }
        self.wait_active().await
    }

    async fn wait_active(&self) -> Result<()> {
        let start = Instant::now();
        loop {
            let described = self.client.describe_table().table_name(&self.config.table).send().await;
            let status = described.map_err(|e| sdk_error("describe table", e))?.table.and_then(|t| t.table_status);
            if status == Some(TableStatus::Active) {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(60) {
                return Err(Error::unavailable(format!("table `{}` did not become active", self.config.table)));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Deletes the table (tests clean up with it).
    pub async fn drop_table(&self) -> Result<()> {
        self.client
            .delete_table()
            .table_name(&self.config.table)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("delete table", e))
    }

    async fn get_item(&self, key_item: Item) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.config.table)
            .set_key(Some(key_item))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("get", e))?;
        Ok(out.item)
    }

    /// The stored entry for `name`, expired or not.
    async fn load_name(&self, name: &str) -> Result<Option<CollectionMetadata>> {
        let Some(claim) = self.get_item(key(name_pk(name), METADATA.into())).await? else { return Ok(None) };
        self.load_id(&get_s(&claim, "collection_id")?).await
    }

    async fn load_id(&self, id: &str) -> Result<Option<CollectionMetadata>> {
        self.get_item(key(entry_pk(id), METADATA.into())).await?.as_ref().map(from_entry).transpose()
    }

    /// Stored entries for the names and ids an operation touches.
    async fn load(&self, names: &[&str], ids: &[&str]) -> Result<HashMap<String, CollectionMetadata>> {
        let mut loaded = HashMap::new();
        for name in names {
            if let Some(m) = self.load_name(name).await? {
                loaded.insert(m.name.clone(), m);
            }
        }
        for id in ids {
            if let Some(m) = self.load_id(id).await? {
                loaded.insert(m.name.clone(), m);
            }
        }
        Ok(loaded)
    }

    /// Plans with the shared catalogue semantics, then writes the net change in one transaction.
    async fn commit(
        &self,
        names: &[&str],
        ids: &[&str],
        plan: impl Fn(&Catalog) -> Result<Vec<Change>>,
    ) -> Result<Vec<Option<CollectionMetadata>>> {
        let before = self.load(names, ids).await?;
        let catalog = Catalog::from_entries(before.values().cloned());
        let changes = plan(&catalog)?;
        let mut after: BTreeMap<String, Option<CollectionMetadata>> = BTreeMap::new();
        let stored: Vec<Option<CollectionMetadata>> = changes
            .into_iter()
            .map(|c| match c {
                Change::Put(m) => {
                    after.insert(m.name.clone(), Some((*m).clone()));
                    Some(*m)
                }
                Change::Remove(name) => {
                    after.insert(name, None);
                    None
                }
            })
            .collect();
        let writes = plan_writes(&before, &after);
        if writes.len() > MAX_TRANSACTION_ITEMS {
            return Err(Error::invalid(format!(
                "this write needs {} DynamoDB items; one transaction holds at most {MAX_TRANSACTION_ITEMS}",
                writes.len()
            )));
        }
        self.transact(&writes).await?;
        Ok(stored)
    }

    async fn transact(&self, writes: &[Write]) -> Result<()> {
        if writes.is_empty() {
            return Ok(());
        }
        let build = |e: aws_sdk_dynamodb::error::BuildError| Error::internal(format!("bad transaction item: {e}"));
        let mut items = Vec::with_capacity(writes.len());
        for w in writes {
            let item = match w {
                Write::Put { item, condition } => {
                    let mut put = Put::builder().table_name(&self.config.table).set_item(Some(item.clone()));
                    if let Some(c) = condition {
                        put = put.condition_expression(c.expression);
                        if !c.values.is_empty() {
                            put = put.set_expression_attribute_values(Some(c.values.clone()));
                        }
                    }
                    TransactWriteItem::builder().put(put.build().map_err(build)?).build()
                }
                Write::Delete { key, condition } => {
                    let mut delete = Delete::builder().table_name(&self.config.table).set_key(Some(key.clone()));
                    if let Some(c) = condition {
                        delete = delete.condition_expression(c.expression);
                        if !c.values.is_empty() {
                            delete = delete.set_expression_attribute_values(Some(c.values.clone()));
                        }
                    }
                    TransactWriteItem::builder().delete(delete.build().map_err(build)?).build()
                }
            };
            items.push(item);
        }
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(transaction_error(writes, e)),
        }
    }

    /// One page of an index query on `hash_attr = hash_value`, names after `after`.
    async fn query_page(
        &self,
        index: &str,
        hash_attr: &str,
        hash_value: &str,
        after: Option<&str>,
        start: Option<Item>,
    ) -> Result<aws_sdk_dynamodb::operation::query::QueryOutput> {
        let query = self
            .client
            .query()
            .table_name(&self.config.table)
            .index_name(index)
            .expression_attribute_names("#h", hash_attr)
            .expression_attribute_values(":h", s(hash_value))
            .set_exclusive_start_key(start)
            .limit(100);
        let query = match after {
            Some(token) => query
                .key_condition_expression("#h = :h AND #n > :t")
                .expression_attribute_names("#n", "name")
                .expression_attribute_values(":t", s(token)),
            None => query.key_condition_expression("#h = :h"),
        };
        query.send().await.map_err(|e| sdk_error("query", e))
    }

    /// Entries from one index query, following pages until `want` match or the index ends.
    async fn query_index(
        &self,
        index: &str,
        hash_attr: &str,
        hash_value: &str,
        filter: &ListFilter,
        want: usize,
    ) -> Result<Vec<CollectionMetadata>> {
        let now = now_unix_secs();
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page =
                self.query_page(index, hash_attr, hash_value, filter.page_token.as_deref(), start.take()).await?;
            for item in page.items() {
                let m = from_entry(item)?;
                if !m.is_expired(now) && filter.matches(&m) {
                    out.push(m);
                }
            }
            match page.last_evaluated_key {
                Some(k) if out.len() < want => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    /// Entries carrying the filter's tags, through the sparse `by_tag` index.
    async fn query_tags(&self, filter: &ListFilter, want: usize) -> Result<Vec<CollectionMetadata>> {
        let now = now_unix_secs();
        let driving: Vec<&String> = match filter.tags_all.first() {
            Some(first) => vec![first],
            None => filter.tags_any.iter().collect(),
        };
        let mut ids: BTreeMap<String, String> = BTreeMap::new(); // name -> id, in name order
        for tag in driving {
            let mut start: Option<Item> = None;
            loop {
                let page = self.query_page("by_tag", "tag", tag, filter.page_token.as_deref(), start.take()).await?;
                for item in page.items() {
                    ids.insert(get_s(item, "name")?, get_s(item, "collection_id")?);
                }
                match page.last_evaluated_key {
                    Some(k) => start = Some(k),
                    None => break,
                }
            }
        }
        let mut out = Vec::new();
        let names: Vec<(String, String)> = ids.into_iter().collect();
        for chunk in names.chunks(100) {
            let keys: Vec<Item> = chunk.iter().map(|(_, id)| key(entry_pk(id), METADATA.into())).collect();
            let request = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| Error::internal(format!("bad batch get: {e}")))?;
            let got = self
                .client
                .batch_get_item()
                .request_items(&self.config.table, request)
                .send()
                .await
                .map_err(|e| sdk_error("batch get", e))?;
            let mut entries: Vec<CollectionMetadata> = got
                .responses
                .and_then(|mut r| r.remove(&self.config.table))
                .unwrap_or_default()
                .iter()
                .map(from_entry)
                .collect::<Result<_>>()?;
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            out.extend(entries.into_iter().filter(|m| !m.is_expired(now) && filter.matches(m)));
            if out.len() >= want {
                break;
            }
        }
        Ok(out)
    }

    /// Every item in the table, through all scan pages.
    async fn scan_all(&self) -> Result<Vec<Item>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.config.table)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("scan", e))?;
            out.extend(page.items().iter().cloned());
            match page.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(out),
            }
        }
    }

    /// Every entry, expired ones included, in name order.
    async fn scan_entries(&self) -> Result<Vec<CollectionMetadata>> {
        let is_entry = |item: &&Item| item_key(item).1 == METADATA && item_key(item).0.starts_with("COLLECTION#");
        let mut out = self.scan_all().await?.iter().filter(is_entry).map(from_entry).collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

/// A cancelled transaction names the write whose condition failed.
fn transaction_error(
    writes: &[Write],
    e: SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> Error {
    if let SdkError::ServiceError(service) = &e
        && let TransactWriteItemsError::TransactionCanceledException(cancelled) = service.err()
    {
        let failed = cancelled.cancellation_reasons().iter().position(|r| r.code() == Some("ConditionalCheckFailed"));
        if let Some(i) = failed {
            let on_create = match &writes[i] {
                Write::Put { condition, .. } | Write::Delete { condition, .. } => {
                    condition.as_ref().is_some_and(|c| c.on_create)
                }
            };
            return if on_create {
                Error::already_exists("a collection with that name or id already exists").with_source(e)
            } else {
                Error::conflict("the collection changed concurrently").with_source(e)
            };
        }
        return Error::conflict("the transaction collided with another; retry").with_source(e);
    }
    sdk_error("transaction", e)
}

fn stored(mut out: Vec<Option<CollectionMetadata>>) -> Result<CollectionMetadata> {
    out.pop().flatten().ok_or_else(|| Error::internal("a write produced no entry"))
}

#[async_trait]
impl MetadataBackend for DynamoBackend {
    fn scheme(&self) -> &'static str {
        crate::SCHEME
    }

    fn capabilities(&self) -> MetaCapabilities {
        MetaCapabilities {
            persistent: true,
            atomic_batch: true,
            native_text_search: false,
            // The table's TTL is not enabled: an entry spans several items (its
            // tags), which TTL would delete one by one at different times.
            // Expired entries are hidden on read.
            native_ttl: false,
            shared: true,
        }
    }

    async fn create(&self, metadata: CollectionMetadata) -> Result<CollectionMetadata> {
        metadata.validate()?;
        let op = [BatchOp::Create(metadata)];
        let BatchOp::Create(m) = &op[0] else { unreachable!() };
        let (names, ids) = ([m.name.as_str()], [m.id.as_str()]);
        let started = std::time::Instant::now();
        let result = with_retries(|| self.commit(&names, &ids, |c| c.plan(&op))).await;
        stored(self.counters.record_timed("create", started, result)?)
    }

    async fn get(&self, name: &str) -> Result<Option<CollectionMetadata>> {
        let now = now_unix_secs();
        let started = std::time::Instant::now();
        let result = with_retries(|| async { Ok(self.load_name(name).await?.filter(|m| !m.is_expired(now))) }).await;
        self.counters.record_timed("get", started, result)
    }

    async fn update(&self, metadata: CollectionMetadata) -> Result<CollectionMetadata> {
        metadata.validate()?;
        let op = [BatchOp::Update(metadata)];
        let BatchOp::Update(m) = &op[0] else { unreachable!() };
        let names = [m.name.as_str()];
        let started = std::time::Instant::now();
        let result = with_retries(|| self.commit(&names, &[], |c| c.plan(&op))).await;
        stored(self.counters.record_timed("update", started, result)?)
    }

    async fn delete(&self, name: &str, expected_version: Option<u64>) -> Result<()> {
        let op = [BatchOp::Delete { name: name.to_string(), expected_version }];
        let names = [name];
        let started = std::time::Instant::now();
        let result = with_retries(|| self.commit(&names, &[], |c| c.plan(&op))).await;
        self.counters.record_timed("delete", started, result).map(|_| ())
    }

    async fn list(&self, filter: &ListFilter) -> Result<ListPage> {
        let limit = filter.page_size()?;
        let want = limit + 1;
        let started = std::time::Instant::now();
        let result = with_retries(|| async {
            let mut items = if let Some(owner) = &filter.owner {
                self.query_index("by_owner", "owner", owner, filter, want).await?
            } else if let Some(pattern) = filter.access_pattern {
                self.query_index("by_access_pattern", "access_pattern", pattern.as_str(), filter, want).await?
            } else if !filter.tags_all.is_empty() || !filter.tags_any.is_empty() {
                self.query_tags(filter, want).await?
            } else {
                self.query_index("by_name", "entity", ENTITY, filter, want).await?
            };
            items.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(ListPage::from_overfetch(items, limit))
        })
        .await;
        self.counters.record_timed("list", started, result)
    }

    async fn batch(&self, ops: Vec<BatchOp>) -> Result<Vec<Option<CollectionMetadata>>> {
        let names: Vec<&str> = ops
            .iter()
            .map(|op| match op {
                BatchOp::Create(m) | BatchOp::Update(m) => m.name.as_str(),
                BatchOp::Delete { name, .. } => name.as_str(),
            })
            .collect();
        let ids: Vec<&str> =
            ops.iter().filter_map(|op| if let BatchOp::Create(m) = op { Some(m.id.as_str()) } else { None }).collect();
        let started = std::time::Instant::now();
        let result = with_retries(|| self.commit(&names, &ids, |c| c.plan(&ops))).await;
        self.counters.record_timed("batch", started, result)
    }

    async fn claim_lease(&self, claim: LeaseClaim) -> Result<Lease> {
        let started = std::time::Instant::now();
        let result = with_retries(|| lease::claim(&self.client, &self.config.table, &claim)).await;
        self.counters.record_timed("claim_lease", started, result)
    }

    async fn lease(&self, collection: &str) -> Result<Option<Lease>> {
        with_retries(|| lease::get(&self.client, &self.config.table, collection)).await
    }

    async fn release_lease(&self, held: &Lease) -> Result<()> {
        with_retries(|| lease::release(&self.client, &self.config.table, held)).await
    }

    async fn list_leases(&self, prefix: &str) -> Result<Vec<Lease>> {
        let wanted = format!("{}{prefix}", lease::LEASE_PREFIX);
        let items = with_retries(|| self.scan_all()).await?;
        let mut leases: Vec<Lease> = items
            .iter()
            .filter_map(|item| {
                let (pk, _) = item_key(item);
                let collection = pk.strip_prefix(lease::LEASE_PREFIX)?.to_string();
                pk.starts_with(&wanted).then(|| lease::from_item(&collection, item))
            })
            .collect::<Result<_>>()?;
        leases.sort_by(|a, b| a.collection.cmp(&b.collection));
        Ok(leases)
    }

    async fn import(&self, entries: Vec<CollectionMetadata>) -> Result<()> {
        let names: Vec<&str> = entries.iter().map(|m| m.name.as_str()).collect();
        let ids: Vec<&str> = entries.iter().map(|m| m.id.as_str()).collect();
        let started = std::time::Instant::now();
        let result = with_retries(|| self.commit(&names, &ids, |c| c.plan_import(entries.clone()))).await;
        self.counters.record_timed("import", started, result).map(|_| ())
    }

    async fn backup(&self, location: &str) -> Result<String> {
        let started = std::time::Instant::now();
        let result =
            with_retries(|| self.scan_entries()).await.and_then(|entries| snapshot::write_new(location, entries));
        self.counters.record_timed("backup", started, result)
    }

    async fn restore(&self, backup_id: &str, location: &str) -> Result<()> {
        let entries = self.counters.record("restore", snapshot::read(location, backup_id))?;
        let started = std::time::Instant::now();
        let result = async {
            let deletes: Vec<Write> = with_retries(|| self.scan_all())
                .await?
                .iter()
                // Leases are not part of the catalogue's contents: their epochs must keep counting.
                .filter(|item| !item_key(item).0.starts_with(lease::LEASE_PREFIX))
                .map(|item| {
                    let (pk, sk) = item_key(item);
                    Write::Delete { key: key(pk, sk), condition: None }
                })
                .collect();
            for chunk in deletes.chunks(MAX_TRANSACTION_ITEMS) {
                with_retries(|| self.transact(chunk)).await?;
            }
            let puts: Vec<Write> = entries
                .iter()
                .flat_map(|m| {
                    let items = [entry_item(m), name_item(m)].into_iter().chain(tag_items(m));
                    items.map(|item| Write::Put { item, condition: None }).collect::<Vec<_>>()
                })
                .collect();
            for chunk in puts.chunks(MAX_TRANSACTION_ITEMS) {
                with_retries(|| self.transact(chunk)).await?;
            }
            Ok(())
        }
        .await;
        self.counters.record_timed("restore", started, result)
    }

    async fn health(&self) -> Result<Health> {
        let start = Instant::now();
        let described = self.client.describe_table().table_name(&self.config.table).send().await;
        let status = described.map_err(|e| sdk_error("describe table", e))?.table.and_then(|t| t.table_status);
        Ok(Health {
            healthy: status == Some(TableStatus::Active),
            latency_ms: start.elapsed().as_secs_f64() * 1e3,
            detail: format!("DynamoDB table `{}` is {status:?}", self.config.table),
        })
    }

    async fn stats(&self) -> Result<BackendStats> {
        let everything = ListFilter::default();
        let all = with_retries(|| self.query_index("by_name", "entity", ENTITY, &everything, usize::MAX)).await?;
        Ok(self.counters.stats(all.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_id_becomes_one_conditional_put() {
        let mut old = CollectionMetadata::new("id-1", "a", 4);
        old.version = 3;
        let moved = CollectionMetadata { name: "b".into(), ..old.clone() };
        let before = HashMap::from([("a".to_string(), old)]);
        let after = BTreeMap::from([("a".to_string(), None), ("b".to_string(), Some(moved))]);
        let writes = plan_writes(&before, &after);
        let entry_writes: Vec<_> = writes
            .iter()
            .filter(|w| matches!(w, Write::Put { item, .. } | Write::Delete { key: item, .. } if item_key(item).0 == "COLLECTION#id-1"))
            .collect();
        assert_eq!(entry_writes.len(), 1, "{writes:?}");
        assert!(matches!(entry_writes[0], Write::Put { condition: Some(c), .. } if c.expression == "version = :v"));
    }
}
