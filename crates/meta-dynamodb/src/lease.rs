//! Writer leases as items `LEASE#<collection>` / `LEASE` in the catalogue's
//! table (no `entity` attribute, so the name index never lists them),
//! written only if the item is still what was read: a condition expression
//! on holder, epoch and expiry (or on its absence), so of concurrent
//! claimants exactly one write lands.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use proxima_core::{Error, Result};
use proxima_meta::{Lease, LeaseClaim, lost};

use crate::items::{Item, get_s, key, n, s};

/// The partition key prefix of lease items.
pub(crate) const LEASE_PREFIX: &str = "LEASE#";
const LEASE_SK: &str = "LEASE";

fn lease_key(collection: &str) -> Item {
    key(format!("{LEASE_PREFIX}{collection}"), LEASE_SK.into())
}

/// Applies `claim` (the rule of [`LeaseClaim::apply`]) to the stored lease.
pub(crate) async fn claim(client: &Client, table: &str, claim: &LeaseClaim) -> Result<Lease> {
    // A claim that loses a race reads again, and then fails naming the winner.
    for _ in 0..2 {
        let stored = get(client, table, &claim.collection).await?;
        let lease = claim.apply(stored.as_ref())?;
        let mut put = client.put_item().table_name(table).set_item(Some(to_item(&lease)));
        put = match &stored {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(seen) => put
                .condition_expression("holder = :h AND epoch = :e AND expires_at_ms = :x")
                .set_expression_attribute_values(Some(seen_values(seen))),
        };
        match put.send().await {
            Ok(_) => return Ok(lease),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => continue,
            Err(e) => return Err(unreachable_or(e)),
        }
    }
    let now = get(client, table, &claim.collection).await?;
    Err(claim.refused(now.as_ref()))
}

/// The stored lease of `collection`.
pub(crate) async fn get(client: &Client, table: &str, collection: &str) -> Result<Option<Lease>> {
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(lease_key(collection)))
        .consistent_read(true)
        .send()
        .await
        .map_err(unreachable_or)?;
    out.item.as_ref().map(|item| from_item(collection, item)).transpose()
}

/// Expires `lease` now if it is still held so; its epoch stays.
pub(crate) async fn release(client: &Client, table: &str, lease: &Lease) -> Result<()> {
    let values = HashMap::from([
        (":h".to_string(), s(&lease.holder)),
        (":e".to_string(), n(lease.epoch)),
        (":zero".to_string(), n(0)),
    ]);
    let update = client
        .update_item()
        .table_name(table)
        .set_key(Some(lease_key(&lease.collection)))
        .update_expression("SET expires_at_ms = :zero")
        .condition_expression("holder = :h AND epoch = :e")
        .set_expression_attribute_values(Some(values))
        .send()
        .await;
    match update {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
            Err(lost(&lease.collection, lease.epoch, get(client, table, &lease.collection).await?.as_ref()))
        }
        Err(e) => Err(unreachable_or(e)),
    }
}

fn seen_values(seen: &Lease) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (":h".to_string(), s(&seen.holder)),
        (":e".to_string(), n(seen.epoch)),
        (":x".to_string(), n(seen.expires_at_ms)),
    ])
}

fn to_item(lease: &Lease) -> Item {
    let mut item = lease_key(&lease.collection);
    item.insert("holder".into(), s(&lease.holder));
    item.insert("address".into(), s(&lease.address));
    item.insert("epoch".into(), n(lease.epoch));
    item.insert("expires_at_ms".into(), n(lease.expires_at_ms));
    item
}

pub(crate) fn from_item(collection: &str, item: &Item) -> Result<Lease> {
    let number = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| Error::corrupted(format!("the lease of `{collection}` has no valid `{k}`")))
    };
    Ok(Lease {
        collection: collection.to_string(),
        holder: get_s(item, "holder")?,
        address: get_s(item, "address")?,
        epoch: number("epoch")?,
        expires_at_ms: number("expires_at_ms")?,
    })
}

fn unreachable_or<E, R>(e: aws_sdk_dynamodb::error::SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    crate::backend::sdk_error("lease", e)
}
