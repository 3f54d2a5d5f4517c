//! Where a new collection goes: the routing strategies and rules. A
//! collection's engine is then recorded in the catalogue, which routes every
//! later operation on it (the `CollectionBased` strategy, always in force for
//! existing collections).

use std::sync::atomic::Ordering;

use proxima_core::{CollectionConfig, Error, Result};
use serde::{Deserialize, Serialize};

use crate::Proxima;

/// A condition on the collection being placed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Dimension within `min..=max`.
    DimensionRange {
        /// Smallest dimension matched.
        min: u32,
        /// Largest dimension matched.
        max: u32,
    },
    /// The expected number of records is at least this.
    SizeAtLeast(u64),
    /// The expected number of records is below this.
    SizeBelow(u64),
    /// The placement happens for this operation.
    Operation(PlacementOperation),
    /// All of these.
    And(Vec<Condition>),
    /// Any of these.
    Or(Vec<Condition>),
}

/// Why a collection is being placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlacementOperation {
    /// It is being created.
    Create,
    /// `rebalance_collections` is checking where it belongs.
    Rebalance,
}

impl Condition {
    fn holds(&self, config: &CollectionConfig, expected_records: u64, op: PlacementOperation) -> bool {
        match self {
            Condition::DimensionRange { min, max } => (*min..=*max).contains(&config.dimension),
            Condition::SizeAtLeast(n) => expected_records >= *n,
            Condition::SizeBelow(n) => expected_records < *n,
            Condition::Operation(wanted) => *wanted == op,
            Condition::And(all) => all.iter().all(|c| c.holds(config, expected_records, op)),
            Condition::Or(any) => any.iter().any(|c| c.holds(config, expected_records, op)),
        }
    }
}

/// A rule: when `condition` holds, place on `engine`. Higher `priority` is tried first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutingRule {
    /// Tried in descending order.
    pub priority: i32,
    /// When it applies.
    pub condition: Condition,
    /// Where it sends the collection.
    pub engine: String,
}

/// How new collections are placed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingStrategy {
    /// The default engine, unless the config names one.
    #[default]
    CollectionBased,
    /// By shape: collections expected to hold at least `large_records`, or of at
    /// least `high_dimension`, go to `large_engine`; others to `small_engine`.
    DataCharacteristics {
        /// Record count from which a collection counts as large.
        large_records: u64,
        /// Dimension from which a collection counts as large.
        high_dimension: u32,
        /// Where large collections go.
        large_engine: String,
        /// Where the rest go.
        small_engine: String,
    },
    /// The open engine with the least work in flight (operations running now),
    /// then the one holding the fewest collections.
    LoadBalanced,
    /// The open engines in turn, by name order.
    RoundRobin,
    /// The first matching rule by priority; the default engine when none matches.
    Rules(Vec<RoutingRule>),
}

impl RoutingStrategy {
    /// The engines the strategy names (each must be open where it is used).
    pub fn engines(&self) -> Vec<&str> {
        match self {
            RoutingStrategy::DataCharacteristics { large_engine, small_engine, .. } => {
                vec![large_engine.as_str(), small_engine.as_str()]
            }
            RoutingStrategy::Rules(rules) => rules.iter().map(|r| r.engine.as_str()).collect(),
            _ => Vec::new(),
        }
    }
}

impl Proxima {
    /// Sets how new collections are placed.
    pub fn set_routing(&self, strategy: RoutingStrategy) {
        *self.routing.write().unwrap_or_else(|e| e.into_inner()) = strategy;
    }

    /// The engine a new collection with `config`, expected to grow to
    /// `expected_records`, would go to.
    pub async fn place(&self, config: &CollectionConfig, expected_records: u64) -> Result<String> {
        self.place_for(config, expected_records, PlacementOperation::Create).await
    }

    /// Like [`Proxima::place`], for the placement operation `op` (rules can depend on it).
    pub async fn place_for(
        &self,
        config: &CollectionConfig,
        expected_records: u64,
        op: PlacementOperation,
    ) -> Result<String> {
        let strategy = self.routing.read().unwrap_or_else(|e| e.into_inner()).clone();
        let engines = self.engines();
        let names: Vec<&String> = engines.keys().collect();
        let chosen = match strategy {
            RoutingStrategy::CollectionBased => self.default_engine().to_string(),
            RoutingStrategy::DataCharacteristics { large_records, high_dimension, large_engine, small_engine } => {
                if expected_records >= large_records || config.dimension >= high_dimension {
                    large_engine
                } else {
                    small_engine
                }
            }
            RoutingStrategy::RoundRobin => {
                let turn = self.round_robin.fetch_add(1, Ordering::Relaxed);
                names[turn % names.len().max(1)].clone()
            }
            RoutingStrategy::LoadBalanced => {
                let mut held: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
                for c in self.list_collections().await? {
                    *held.entry(c.engine.unwrap_or_else(|| self.default_engine().to_string())).or_default() += 1;
                }
                names
                    .iter()
                    .min_by_key(|n| (self.in_flight(n), held.get(n.as_str()).copied().unwrap_or(0), n.as_str()))
                    .map(|n| n.to_string())
                    .ok_or_else(|| Error::invalid("no engines are open"))?
            }
            RoutingStrategy::Rules(mut rules) => {
                rules.sort_by_key(|r| std::cmp::Reverse(r.priority));
                rules
                    .into_iter()
                    .find(|r| r.condition.holds(config, expected_records, op))
                    .map_or_else(|| self.default_engine().to_string(), |r| r.engine)
            }
        };
        self.engine_named(&chosen)?;
        Ok(chosen)
    }
}
