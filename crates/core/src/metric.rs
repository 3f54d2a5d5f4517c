//! Distance metrics and the one transformation they need at write time.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How two vectors are compared. Scores are "higher is closer" for every metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DistanceMetric {
    /// Cosine similarity. Vectors are stored unit-normalised, so it is scored by dot product.
    #[default]
    Cosine,
    /// Inner product.
    Dot,
    /// Euclidean distance, scored as the negated squared distance.
    Euclidean,
}

impl DistanceMetric {
    /// Transforms a vector into its stored form: cosine normalises to unit length
    /// (a zero vector has no direction and is rejected); other metrics keep it as is.
    pub fn prepare(self, vector: &mut [f32]) -> Result<()> {
        if self != DistanceMetric::Cosine {
            return Ok(());
        }
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm == 0.0 || !norm.is_finite() {
            return Err(Error::invalid("a zero vector has no direction under the cosine metric"));
        }
        vector.iter_mut().for_each(|x| *x /= norm);
        Ok(())
    }

    /// The reference (scalar) score of two stored vectors; higher is closer.
    pub fn score(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            DistanceMetric::Cosine | DistanceMetric::Dot => a.iter().zip(b).map(|(x, y)| x * y).sum(),
            DistanceMetric::Euclidean => -a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_normalises_and_rejects_zero() {
        let mut v = vec![3.0, 4.0];
        DistanceMetric::Cosine.prepare(&mut v).unwrap();
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        let err = DistanceMetric::Cosine.prepare(&mut [0.0, 0.0]).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
        let mut d = vec![3.0, 4.0];
        DistanceMetric::Dot.prepare(&mut d).unwrap();
        assert_eq!(d, vec![3.0, 4.0]);
    }

    #[test]
    fn scores_are_higher_when_closer() {
        let q = [1.0, 0.0];
        assert!(DistanceMetric::Euclidean.score(&q, &[1.0, 0.1]) > DistanceMetric::Euclidean.score(&q, &[0.0, 1.0]));
        assert_eq!(DistanceMetric::Dot.score(&q, &[2.0, 5.0]), 2.0);
    }
}
