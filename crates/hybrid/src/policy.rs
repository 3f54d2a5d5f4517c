//! User policies (stated preferences, hard constraints, a blend weight), the
//! events users send, and the rule by which events teach a profile.
//!
//! **The learning rule.** Each event carries a signal: `like` +1, `dislike`
//! −1, `click` +0.25, `skip` −0.25, `dwell` +0.5 × min(seconds / 30, 1). For
//! every declared field value of the item (`genre = "drama"`), the user's
//! count for that value decays with a half-life of 14 days and then adds the
//! signal. A count `c` becomes an affinity of 0.5 × tanh(c / 2): one like is
//! worth +0.23, three +0.45, never more than 0.5.
//!
//! **The preference score** of an item is the sum of the stated boosts whose
//! field and value the item has, plus the affinities of the values it has,
//! clamped to [−1, 1]. A query blends it with the item's relevance:
//! `(1 − blend) × relevance + blend × preference`.

use std::collections::BTreeMap;

use proxima_core::{Error, Filter, Metadata, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How fast a learned count fades.
pub const HALF_LIFE_MS: u64 = 14 * 24 * 3600 * 1000;
/// Liked ids remembered per user and collection (most recent first).
pub const LIKED_KEPT: usize = 32;
/// Learned values kept per user; the weakest go first.
pub const LEARNED_KEPT: usize = 512;
/// Longest user name, bytes.
pub const MAX_USER_LEN: usize = 128;

/// What a user stated: preferences, constraints and how much they count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct UserPolicy {
    /// Boosts (or, negative, penalties) for items with a field value.
    #[serde(default)]
    pub preferences: Vec<Preference>,
    /// Items that do not match are never returned (the filter language of searches).
    #[serde(default)]
    pub constraints: Option<Filter>,
    /// Weight of preference against relevance, 0..=1 (default 0.3).
    #[serde(default = "default_blend")]
    pub blend: f32,
}

fn default_blend() -> f32 {
    0.3
}

impl Default for UserPolicy {
    fn default() -> Self {
        Self { preferences: Vec::new(), constraints: None, blend: default_blend() }
    }
}

/// A boost for items whose `field` holds `value`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Preference {
    /// Dotted path into the metadata.
    pub field: String,
    /// The value (an array field matches when any element is equal).
    pub value: Value,
    /// −1..=1.
    pub boost: f32,
}

impl UserPolicy {
    /// Checks ranges and shapes (field types are the caller's to check against collections).
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.blend) {
            return Err(Error::invalid(format!("blend {} is outside 0..=1", self.blend)));
        }
        // No collection declares anything here: these check only shapes.
        let shapes = proxima_core::CollectionConfig::new("policy", 1);
        for p in &self.preferences {
            if !(-1.0..=1.0).contains(&p.boost) {
                return Err(Error::invalid(format!("boost {} for `{}` is outside -1..=1", p.boost, p.field)));
            }
            Filter::eq(p.field.clone(), p.value.clone()).validate(&shapes)?;
        }
        self.constraints.as_ref().map_or(Ok(()), |c| c.validate(&shapes))
    }
}

/// What a user did with an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Opened it.
    Click,
    /// Liked it.
    Like,
    /// Disliked it.
    Dislike,
    /// Passed over it.
    Skip,
    /// Spent `value` seconds on it.
    Dwell,
}

/// One event as a client sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// The item.
    pub id: String,
    /// What happened.
    pub event: EventKind,
    /// Seconds, for `dwell` (required there, ignored elsewhere).
    #[serde(default)]
    pub value: Option<f64>,
}

impl Event {
    /// Checks the id and the value.
    pub fn validate(&self) -> Result<()> {
        if self.id.is_empty() {
            return Err(Error::invalid("an event needs an item id"));
        }
        if self.event == EventKind::Dwell && !self.value.is_some_and(|v| v.is_finite() && v >= 0.0) {
            return Err(Error::invalid(format!("dwell on `{}` needs a `value`: seconds, 0 or more", self.id)));
        }
        Ok(())
    }

    fn signal(&self) -> f64 {
        match self.event {
            EventKind::Like => 1.0,
            EventKind::Dislike => -1.0,
            EventKind::Click => 0.25,
            EventKind::Skip => -0.25,
            EventKind::Dwell => 0.5 * (self.value.unwrap_or(0.0) / 30.0).min(1.0),
        }
    }
}

/// An event with what learning needs from its item, as stored: applying the
/// same resolved events in the same order gives the same profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedEvent {
    /// The item's collection.
    pub collection: String,
    /// The event.
    pub event: Event,
    /// When, in unix milliseconds.
    pub at_ms: u64,
    /// The item's declared field values (each element of an array field).
    pub fields: Vec<(String, Value)>,
}

/// A learned count for one field value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Affinity {
    /// The field.
    pub field: String,
    /// Its value.
    pub value: Value,
    /// The decayed count as of `at_ms`.
    pub count: f64,
    /// When the count last changed, unix milliseconds.
    pub at_ms: u64,
}

impl Affinity {
    /// The count decayed to `now_ms`.
    pub fn count_at(&self, now_ms: u64) -> f64 {
        let age = now_ms.saturating_sub(self.at_ms) as f64;
        self.count * 0.5f64.powf(age / HALF_LIFE_MS as f64)
    }

    /// What the value adds to an item's preference score at `now_ms`.
    pub fn boost_at(&self, now_ms: u64) -> f64 {
        0.5 * (self.count_at(now_ms) / 2.0).tanh()
    }
}

/// Everything kept about a user: the stated policy and what was learned.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UserProfile {
    /// The stated policy (neutral until one is put).
    pub policy: UserPolicy,
    /// Learned counts, by `field=value`.
    pub learned: BTreeMap<String, Affinity>,
    /// Liked ids per collection, most recent first.
    pub liked: BTreeMap<String, Vec<String>>,
    /// Events applied.
    pub events: u64,
    /// Grows with every change (answers cached for a profile name its version).
    pub version: u64,
}

impl UserProfile {
    /// Applies one event by the learning rule.
    pub fn learn(&mut self, resolved: &ResolvedEvent) {
        let signal = resolved.event.signal();
        for (field, value) in &resolved.fields {
            let key = format!("{field}={value}");
            let entry = self.learned.entry(key).or_insert_with(|| Affinity {
                field: field.clone(),
                value: value.clone(),
                count: 0.0,
                at_ms: resolved.at_ms,
            });
            entry.count = entry.count_at(resolved.at_ms) + signal;
            entry.at_ms = entry.at_ms.max(resolved.at_ms);
        }
        if self.learned.len() > LEARNED_KEPT {
            let mut weakest: Vec<(f64, String)> =
                self.learned.iter().map(|(k, a)| (a.count_at(resolved.at_ms).abs(), k.clone())).collect();
            weakest.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
            for (_, key) in weakest.into_iter().take(self.learned.len() - LEARNED_KEPT) {
                self.learned.remove(&key);
            }
        }
        let liked = self.liked.entry(resolved.collection.clone()).or_default();
        match resolved.event.event {
            EventKind::Like => {
                liked.retain(|id| *id != resolved.event.id);
                liked.insert(0, resolved.event.id.clone());
                liked.truncate(LIKED_KEPT);
            }
            EventKind::Dislike => liked.retain(|id| *id != resolved.event.id),
            _ => {}
        }
        if liked.is_empty() {
            self.liked.remove(&resolved.collection);
        }
        self.events += 1;
        self.version += 1;
    }

    /// Replaces the stated policy, keeping what was learned.
    pub fn set_policy(&mut self, policy: UserPolicy) {
        self.policy = policy;
        self.version += 1;
    }

    /// The item's preference score at `now_ms`, in −1..=1.
    pub fn preference(&self, metadata: &Metadata, now_ms: u64) -> f64 {
        let has = |field: &str, value: &Value| Filter::eq(field, value.clone()).matches(metadata);
        let stated: f64 =
            self.policy.preferences.iter().filter(|p| has(&p.field, &p.value)).map(|p| f64::from(p.boost)).sum();
        let learned: f64 = self.learned.values().filter(|a| has(&a.field, &a.value)).map(|a| a.boost_at(now_ms)).sum();
        (stated + learned).clamp(-1.0, 1.0)
    }

    /// The ids the user liked most recently in `collection`.
    pub fn liked_in(&self, collection: &str) -> &[String] {
        self.liked.get(collection).map_or(&[], Vec::as_slice)
    }
}

/// Checks a user name: 1–128 bytes of letters, digits, `_`, `-`, `.`, `@`.
pub fn validate_user(user: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@');
    if user.is_empty() || user.len() > MAX_USER_LEN || !user.chars().all(allowed) {
        return Err(Error::invalid(format!(
            "user `{user}` must be 1-{MAX_USER_LEN} letters, digits, `_`, `-`, `.` or `@`"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn liked(id: &str, genre: &str, at_ms: u64, kind: EventKind) -> ResolvedEvent {
        ResolvedEvent {
            collection: "movies".into(),
            event: Event { id: id.into(), event: kind, value: None },
            at_ms,
            fields: vec![("genre".into(), json!(genre))],
        }
    }

    #[test]
    fn likes_raise_a_value_and_fade_by_half_life() {
        let mut profile = UserProfile::default();
        for (i, id) in ["m1", "m2", "m3"].iter().enumerate() {
            profile.learn(&liked(id, "drama", i as u64, EventKind::Like));
        }
        profile.learn(&liked("m9", "horror", 3, EventKind::Dislike));
        let drama = json!({"genre": "drama"}).as_object().unwrap().clone();
        let horror = json!({"genre": "horror"}).as_object().unwrap().clone();
        let now = 3;
        assert!((profile.preference(&drama, now) - 0.5 * 1.5f64.tanh()).abs() < 1e-6);
        assert!(profile.preference(&horror, now) < 0.0);
        let later = now + HALF_LIFE_MS;
        assert!((profile.learned["genre=\"drama\""].count_at(later) - 1.5).abs() < 1e-3);
        assert_eq!(profile.liked_in("movies"), ["m3", "m2", "m1"]);
        assert_eq!((profile.events, profile.version), (4, 4));
    }

    #[test]
    fn stated_preferences_add_and_clamp() {
        let mut profile = UserProfile::default();
        profile.set_policy(UserPolicy {
            preferences: vec![
                Preference { field: "genre".into(), value: json!("drama"), boost: 0.8 },
                Preference { field: "lang".into(), value: json!("fr"), boost: 0.8 },
            ],
            ..UserPolicy::default()
        });
        let both = json!({"genre": ["drama", "war"], "lang": "fr"}).as_object().unwrap().clone();
        assert_eq!(profile.preference(&both, 0), 1.0);
        assert_eq!(profile.preference(&Metadata::new(), 0), 0.0);
    }

    #[test]
    fn bad_policies_and_events_are_refused() {
        let bad_blend = UserPolicy { blend: 1.5, ..UserPolicy::default() };
        assert!(bad_blend.validate().unwrap_err().message().contains("blend"));
        let bad_boost = UserPolicy {
            preferences: vec![Preference { field: "g".into(), value: json!(1), boost: 2.0 }],
            ..UserPolicy::default()
        };
        assert!(bad_boost.validate().is_err());
        let dwell = Event { id: "a".into(), event: EventKind::Dwell, value: None };
        assert!(dwell.validate().unwrap_err().message().contains("dwell"));
        assert!(validate_user("ann@example.com").is_ok());
        assert!(validate_user("a b").is_err());
    }
}
