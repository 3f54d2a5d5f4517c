//! Reusable visited sets: an epoch per node, so clearing is one increment.

use std::sync::Mutex;

/// Marks nodes visited during one search.
#[derive(Debug)]
pub(crate) struct VisitedSet {
    marks: Vec<u16>,
    epoch: u16,
}

impl VisitedSet {
    fn new(len: usize) -> Self {
        Self { marks: vec![0; len], epoch: 0 }
    }

    /// Starts a new search over `len` nodes.
    pub(crate) fn clear(&mut self, len: usize) {
        if self.marks.len() < len {
            self.marks.resize(len, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            // The epoch wrapped: old marks could read as current.
            self.marks.fill(0);
            self.epoch = 1;
        }
    }

    /// Marks `node`; returns whether it was already marked.
    #[inline]
    pub(crate) fn check_and_mark(&mut self, node: u32) -> bool {
        let mark = &mut self.marks[node as usize];
        let seen = *mark == self.epoch;
        *mark = self.epoch;
        seen
    }
}

/// A pool of visited sets, so concurrent searches never allocate one per query.
#[derive(Debug, Default)]
pub(crate) struct VisitedPool {
    free: Mutex<Vec<VisitedSet>>,
}

impl VisitedPool {
    /// Takes a cleared set for `len` nodes.
    pub(crate) fn take(&self, len: usize) -> VisitedSet {
        let pooled = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut set = pooled.unwrap_or_else(|| VisitedSet::new(len));
        set.clear(len);
        set
    }

    /// Returns a set for reuse.
    pub(crate) fn give_back(&self, set: VisitedSet) {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).push(set);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_come_back_cleared_even_across_epoch_wrap() {
        let pool = VisitedPool::default();
        for _ in 0..70_000 {
            let mut set = pool.take(4);
            assert!(!set.check_and_mark(2));
            assert!(set.check_and_mark(2));
            pool.give_back(set);
        }
    }
}
