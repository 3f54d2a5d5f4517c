//! Renumbering a graph's nodes so that neighbours sit near each other in
//! memory: a walk then reads the codes and lists of one hop from a few
//! nearby cache lines and pages instead of from all over the arrays.
//!
//! Breadth-first order from the entry point is the cheap ordering of Coleman
//! et al. (NeurIPS 2022). Node `i` then stands for row `rows[i]`: searches
//! map back before they test a filter, read a row or answer. Builds do not
//! renumber: on GloVe-50 (390,000 rows, whose codes fit in the L3 cache) it
//! made no difference beyond the noise (docs/perf-journal.md); the benchmark
//! keeps measuring it (`ann --walks-only`).

use std::collections::VecDeque;

use super::Hnsw;

impl Hnsw {
    /// Renumbers the nodes in breadth-first order of layer 0 from the entry
    /// point. Answers stay the same rows; only the memory layout changes.
    pub fn reorder(&mut self) {
        let len = self.len();
        let Some((entry, _)) = self.entry else { return };
        let mut new_id = vec![u32::MAX; len];
        let mut next = 0u32;
        let mut queue = VecDeque::new();
        // Nodes layer 0 cannot reach from the entry (rare) keep their relative order after the rest.
        for start in std::iter::once(entry).chain(0..len as u32) {
            if new_id[start as usize] != u32::MAX {
                continue;
            }
            new_id[start as usize] = next;
            next += 1;
            queue.push_back(start);
            while let Some(node) = queue.pop_front() {
                for &n in self.level0_list(node) {
                    if new_id[n as usize] == u32::MAX {
                        new_id[n as usize] = next;
                        next += 1;
                        queue.push_back(n);
                    }
                }
            }
        }
        self.renumber(&new_id);
    }

    /// Gives the nodes back their row numbers.
    pub fn restore_row_order(&mut self) {
        if let Some(rows) = self.rows.clone() {
            self.renumber(&rows);
        }
    }

    /// Whether node numbers differ from row numbers.
    pub fn is_reordered(&self) -> bool {
        self.rows.is_some()
    }

    /// The row a node stands for.
    #[inline]
    pub(super) fn row_of(&self, node: u32) -> u32 {
        self.rows.as_ref().map_or(node, |rows| rows[node as usize])
    }

    fn level0_list(&self, node: u32) -> &[u32] {
        let stride = self.params.m0() + 1;
        let list = &self.level0[node as usize * stride..(node as usize + 1) * stride];
        &list[1..1 + list[0] as usize]
    }

    /// Moves old node `o` to `new_id[o]` (a permutation), in every array.
    fn renumber(&mut self, new_id: &[u32]) {
        let len = self.len();
        let mut old_of = vec![0u32; len];
        for (old, &new) in new_id.iter().enumerate() {
            old_of[new as usize] = old as u32;
        }
        let stride0 = self.params.m0() + 1;
        let mut level0 = vec![0u32; self.level0.len()];
        let (mut levels, mut upper_offsets, mut upper) = (vec![0u8; len], Vec::with_capacity(len + 1), Vec::new());
        for (new, &old) in old_of.iter().enumerate() {
            let old = old as usize;
            let list = &self.level0[old * stride0..(old + 1) * stride0];
            let out = &mut level0[new * stride0..(new + 1) * stride0];
            out[0] = list[0];
            for (slot, &n) in out[1..].iter_mut().zip(&list[1..1 + list[0] as usize]) {
                *slot = new_id[n as usize];
            }
            levels[new] = self.levels[old];
            upper_offsets.push(upper.len() as u32);
            let lists = &self.upper[self.upper_offsets[old] as usize..self.upper_offsets[old + 1] as usize];
            for list in lists.chunks_exact(self.params.m + 1) {
                upper.push(list[0]);
                upper.extend(
                    list[1..].iter().enumerate().map(
                        |(i, &n)| {
                            if i < list[0] as usize { new_id[n as usize] } else { 0 }
                        },
                    ),
                );
            }
        }
        upper_offsets.push(upper.len() as u32);
        self.rows = Some(old_of.iter().map(|&old| self.row_of(old)).collect());
        if self.rows.as_ref().is_some_and(|rows| rows.iter().enumerate().all(|(i, &r)| i as u32 == r)) {
            self.rows = None;
        }
        if let Some(codes) = &mut self.codes {
            codes.permute(&old_of);
        }
        self.entry = self.entry.map(|(e, top)| (new_id[e as usize], top));
        (self.levels, self.level0, self.upper_offsets, self.upper) = (levels, level0, upper_offsets, upper);
    }
}
