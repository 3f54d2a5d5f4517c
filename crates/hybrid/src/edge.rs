//! Edges between records of one collection: their shape and their limits.

use proxima_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// Longest traversal, in hops.
pub const MAX_DEPTH: u8 = 3;
/// Most edges followed out of one node per hop.
pub const MAX_FAN_OUT: usize = 64;
/// Most start ids of one traversal.
pub const MAX_START_IDS: usize = 256;
/// Longest relation type name, bytes.
pub const MAX_TYPE_LEN: usize = 64;

/// A typed, weighted, directed edge between two records of a collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Edge {
    /// The record the edge leaves.
    pub from: String,
    /// The record it reaches.
    pub to: String,
    /// A user-chosen type such as `SIMILAR_TO` (1–64 bytes: letters, digits, `_`, `-`, `.`, `:`).
    #[serde(rename = "type")]
    pub ty: String,
    /// In (0, 1]; a path scores the product of its weights. Default 1.
    #[serde(default = "one")]
    pub weight: f32,
}

fn one() -> f32 {
    1.0
}

impl Edge {
    /// An edge of weight `weight`.
    pub fn new(from: impl Into<String>, to: impl Into<String>, ty: impl Into<String>, weight: f32) -> Self {
        Self { from: from.into(), to: to.into(), ty: ty.into(), weight }
    }

    /// What identifies the edge: an upsert of the same key replaces its weight.
    pub fn key(&self) -> EdgeKey {
        EdgeKey { from: self.from.clone(), to: self.to.clone(), ty: self.ty.clone() }
    }

    /// Checks the ids, the type and the weight.
    pub fn validate(&self) -> Result<()> {
        self.key().validate()?;
        if !(self.weight > 0.0 && self.weight <= 1.0) {
            return Err(Error::invalid(format!(
                "edge {} -> {} has weight {}; weights are in (0, 1]",
                self.from, self.to, self.weight
            )));
        }
        Ok(())
    }
}

/// An edge's identity: its endpoints and type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EdgeKey {
    /// The record the edge leaves.
    pub from: String,
    /// The record it reaches.
    pub to: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: String,
}

impl EdgeKey {
    /// Checks the ids and the type.
    pub fn validate(&self) -> Result<()> {
        if self.from.is_empty() || self.to.is_empty() {
            return Err(Error::invalid("an edge needs non-empty `from` and `to` ids"));
        }
        if self.from == self.to {
            return Err(Error::invalid(format!(
                "edge from `{}` to itself; a record is not its own relation",
                self.from
            )));
        }
        validate_type(&self.ty)
    }
}

/// Checks a relation type name.
pub fn validate_type(ty: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':');
    if ty.is_empty() || ty.len() > MAX_TYPE_LEN || !ty.chars().all(allowed) {
        return Err(Error::invalid(format!(
            "relation type `{ty}` must be 1-{MAX_TYPE_LEN} letters, digits, `_`, `-`, `.` or `:`"
        )));
    }
    Ok(())
}

/// Which edges of a node a traversal follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Edges leaving the node (`from` is the node).
    #[default]
    Out,
    /// Edges reaching the node, followed backwards.
    In,
    /// Both.
    Both,
}

impl Direction {
    /// Parses `out`, `in` or `both`.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "out" => Ok(Self::Out),
            "in" => Ok(Self::In),
            "both" => Ok(Self::Both),
            other => Err(Error::invalid(format!("unknown relation direction `{other}`; use out, in or both"))),
        }
    }

    /// Whether edges leaving a node are followed.
    pub fn follows_out(self) -> bool {
        matches!(self, Self::Out | Self::Both)
    }

    /// Whether edges reaching a node are followed backwards.
    pub fn follows_in(self) -> bool {
        matches!(self, Self::In | Self::Both)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_problem() {
        assert!(Edge::new("a", "b", "SIMILAR_TO", 0.5).validate().is_ok());
        for (edge, needle) in [
            (Edge::new("", "b", "T", 1.0), "non-empty"),
            (Edge::new("a", "a", "T", 1.0), "itself"),
            (Edge::new("a", "b", "", 1.0), "relation type"),
            (Edge::new("a", "b", "has space", 1.0), "relation type"),
            (Edge::new("a", "b", "T", 0.0), "(0, 1]"),
            (Edge::new("a", "b", "T", 1.5), "(0, 1]"),
            (Edge::new("a", "b", "T", f32::NAN), "(0, 1]"),
        ] {
            let err = edge.validate().unwrap_err();
            assert!(err.message().contains(needle), "{err}");
        }
        assert!(Direction::parse("sideways").unwrap_err().message().contains("sideways"));
        assert_eq!(Direction::parse("both").unwrap(), Direction::Both);
    }

    #[test]
    fn weight_defaults_to_one() {
        let edge: Edge = serde_json::from_str(r#"{"from":"a","to":"b","type":"T"}"#).unwrap();
        assert_eq!(edge.weight, 1.0);
        assert!(serde_json::from_str::<Edge>(r#"{"from":"a","to":"b","type":"T","x":1}"#).is_err());
    }
}
