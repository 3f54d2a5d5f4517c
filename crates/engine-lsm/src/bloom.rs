//! A bloom filter over a run's ids, stored in the run file. The hash is fixed
//! (FNV-1a, then splitmix64 for the second probe stride) because filters
//! outlive the process that wrote them.

/// Bits per key: about 1% false positives with 7 probes.
const BITS_PER_KEY: usize = 10;
const PROBES: u64 = 7;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bloom {
    bits: Vec<u64>,
}

/// The two hashes every probe of `id` derives from (computed once per lookup, shared by the runs).
pub(crate) fn hashes(id: &str) -> (u64, u64) {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (h, (z ^ (z >> 31)) | 1)
}

impl Bloom {
    pub(crate) fn build<'a>(ids: impl ExactSizeIterator<Item = &'a str>) -> Self {
        let words = (ids.len() * BITS_PER_KEY).div_ceil(64).max(1);
        let mut bloom = Self { bits: vec![0; words] };
        for id in ids {
            for bit in bloom.probes(id) {
                bloom.bits[bit / 64] |= 1 << (bit % 64);
            }
        }
        bloom
    }

    fn probes(&self, id: &str) -> impl Iterator<Item = usize> + use<> {
        self.probes_of(hashes(id))
    }

    fn probes_of(&self, (h1, h2): (u64, u64)) -> impl Iterator<Item = usize> + use<> {
        let m = self.bits.len() as u64 * 64;
        (0..PROBES).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % m) as usize)
    }

    /// False means the id is certainly not in the run.
    #[cfg(test)]
    pub(crate) fn may_contain(&self, id: &str) -> bool {
        self.may_contain_hashed(hashes(id))
    }

    /// Whether the id whose `hashes` these are may be in the run.
    pub(crate) fn may_contain_hashed(&self, hashed: (u64, u64)) -> bool {
        self.probes_of(hashed).all(|bit| self.bits[bit / 64] & (1 << (bit % 64)) != 0)
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        self.bits.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// `None` if the length is not a whole number of words.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty() || !bytes.len().is_multiple_of(8) {
            return None;
        }
        Some(Self { bits: bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect() })
    }
}

#[cfg(test)]
mod tests {
    use super::Bloom;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let ids: Vec<String> = (0..10_000).map(|i| format!("id{i}")).collect();
        let bloom = Bloom::build(ids.iter().map(String::as_str));
        assert!(ids.iter().all(|id| bloom.may_contain(id)));
        let false_positives = (0..10_000).filter(|i| bloom.may_contain(&format!("other{i}"))).count();
        assert!(false_positives < 300, "{false_positives} false positives in 10,000");
        assert_eq!(Bloom::from_bytes(&bloom.to_bytes()), Some(bloom));
        assert_eq!(Bloom::from_bytes(&[1, 2, 3]), None);
    }
}
