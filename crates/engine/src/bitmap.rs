//! A fixed-length bit set, used for row liveness.

/// A bit per row; a set bit means the row is live.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bitmap {
    words: Vec<u64>,
    len: usize,
}

impl Bitmap {
    /// `len` bits, all set.
    pub fn all_set(len: usize) -> Self {
        let mut words = vec![u64::MAX; len.div_ceil(64)];
        if !len.is_multiple_of(64)
            && let Some(last) = words.last_mut()
        {
            *last = (1u64 << (len % 64)) - 1;
        }
        Self { words, len }
    }

    /// `len` bits, none set.
    pub fn all_unset(len: usize) -> Self {
        Self { words: vec![0; len.div_ceil(64)], len }
    }

    /// Number of bits.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no bits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a bit.
    pub fn push(&mut self, value: bool) {
        if self.len.is_multiple_of(64) {
            self.words.push(0);
        }
        self.len += 1;
        self.set(self.len - 1, value);
    }

    /// Bit `i`; out-of-range bits read as unset.
    pub fn get(&self, i: usize) -> bool {
        i < self.len && self.words[i / 64] & (1 << (i % 64)) != 0
    }

    /// Sets bit `i` (which must be in range).
    pub fn set(&mut self, i: usize, value: bool) {
        assert!(i < self.len, "bit {i} out of range {}", self.len);
        let mask = 1u64 << (i % 64);
        if value {
            self.words[i / 64] |= mask;
        } else {
            self.words[i / 64] &= !mask;
        }
    }

    /// Number of set bits.
    pub fn count_ones(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Indexes of set bits, ascending.
    pub fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.words
            .iter()
            .enumerate()
            .filter(|(_, word)| **word != 0)
            .flat_map(|(i, word)| (0..64).filter(move |bit| word & (1 << bit) != 0).map(move |bit| i * 64 + bit))
            .take_while(|&row| row < self.len)
    }

    /// Indexes of unset bits, ascending; words with every bit set are skipped
    /// whole, so a mostly live segment yields its few dead rows quickly.
    pub fn zeros(&self) -> impl Iterator<Item = usize> + '_ {
        self.words
            .iter()
            .enumerate()
            .filter(|(_, word)| **word != u64::MAX)
            .flat_map(|(i, word)| (0..64).filter(move |bit| word & (1 << bit) == 0).map(move |bit| i * 64 + bit))
            .take_while(|&row| row < self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_count() {
        let mut b = Bitmap::all_set(70);
        assert_eq!(b.count_ones(), 70);
        assert!(!b.get(70));
        b.set(3, false);
        b.set(69, false);
        assert_eq!(b.count_ones(), 68);
        b.push(true);
        b.push(false);
        assert_eq!((b.len(), b.count_ones()), (72, 69));
        assert_eq!(b.ones().take(4).collect::<Vec<_>>(), vec![0, 1, 2, 4]);
        assert_eq!(b.zeros().collect::<Vec<_>>(), vec![3, 69, 71]);
        assert_eq!(Bitmap::all_set(130).zeros().count(), 0);
    }
}
