//! Bounded top-k selection by distance.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A row and its distance to the query (lower is closer).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbor {
    /// Row number within the segment.
    pub row: u32,
    /// Distance to the query.
    pub distance: f32,
}

impl Neighbor {
    /// The score (higher is closer).
    pub fn score(&self) -> f32 {
        crate::score_of(self.distance)
    }
}

impl Eq for Neighbor {}

impl Ord for Neighbor {
    /// By distance, then row, so that equal distances order deterministically.
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance.total_cmp(&other.distance).then(self.row.cmp(&other.row))
    }
}

impl PartialOrd for Neighbor {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Keeps the `k` closest neighbours pushed into it.
#[derive(Debug)]
pub struct TopK {
    k: usize,
    heap: BinaryHeap<Neighbor>,
}

impl TopK {
    /// An empty selection of at most `k`.
    pub fn new(k: usize) -> Self {
        Self { k, heap: BinaryHeap::with_capacity(k + 1) }
    }

    /// The distance a candidate must beat to enter (infinity until full).
    #[inline]
    pub fn threshold(&self) -> f32 {
        if self.heap.len() < self.k { f32::INFINITY } else { self.heap.peek().map_or(f32::INFINITY, |n| n.distance) }
    }

    /// Offers a candidate.
    #[inline]
    pub fn push(&mut self, candidate: Neighbor) {
        if self.heap.len() < self.k {
            self.heap.push(candidate);
        } else if let Some(mut worst) = self.heap.peek_mut()
            && candidate < *worst
        {
            *worst = candidate;
        }
    }

    /// Number held.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The selection, closest first.
    pub fn into_sorted(self) -> Vec<Neighbor> {
        self.heap.into_sorted_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_k_closest_in_order() {
        let mut top = TopK::new(3);
        for (row, d) in [(0, 5.0), (1, 1.0), (2, 4.0), (3, 0.5), (4, 3.0), (5, 9.0)] {
            top.push(Neighbor { row, distance: d });
        }
        let rows: Vec<u32> = top.into_sorted().iter().map(|n| n.row).collect();
        assert_eq!(rows, vec![3, 1, 4]);
    }
}
