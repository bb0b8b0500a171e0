//! A small deterministic random number generator for seeding emulator data.
//!
//! The sandbox promises that `--seed N` always produces the same data, across
//! platforms and dependency upgrades, so it carries its own generator (SplitMix64)
//! instead of depending on a library whose output may change between versions.

/// SplitMix64: fast, tiny, and good enough for synthetic test data.
#[derive(Debug, Clone)]
pub struct SeededRng {
    state: u64,
}

impl SeededRng {
    /// Creates a generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// Derives an independent generator for a named purpose, so that adding
    /// draws to one part of the data does not shift every other part.
    pub fn fork(&self, purpose: &str) -> Self {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in purpose.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        Self::new(self.state ^ hash)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniformly distributed integer in `low..high` (`high` exclusive).
    ///
    /// # Panics
    /// Panics when the range is empty, which is a bug in the caller.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        assert!(low < high, "empty range {low}..{high}");
        low + self.next_u64() % (high - low)
    }

    /// A uniformly distributed index below `len`.
    pub fn index(&mut self, len: usize) -> usize {
        self.range(0, len as u64) as usize
    }

    /// A float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with the given probability.
    pub fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// A version-4-shaped UUID string drawn from this generator.
    pub fn uuid(&mut self) -> String {
        let high = self.next_u64();
        let low = self.next_u64();
        let high = (high & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
        let low = (low & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            high >> 32,
            (high >> 16) & 0xffff,
            high & 0xffff,
            low >> 48,
            low & 0xffff_ffff_ffff
        )
    }

    /// A string of `len` decimal digits (the first one non-zero).
    pub fn digits(&mut self, len: usize) -> String {
        let mut out = String::with_capacity(len);
        for position in 0..len {
            let low = if position == 0 { 1 } else { 0 };
            out.push(char::from(b'0' + self.range(low, 10) as u8));
        }
        out
    }

    /// Shuffles a slice in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_forks_differ() {
        let mut a = SeededRng::new(7);
        let mut b = SeededRng::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        let mut x = a.fork("x");
        let mut y = a.fork("y");
        assert_ne!(x.next_u64(), y.next_u64());
    }

    #[test]
    fn uuid_has_version_and_variant() {
        let uuid = SeededRng::new(1).uuid();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn range_stays_in_bounds() {
        let mut rng = SeededRng::new(3);
        for _ in 0..1000 {
            let v = rng.range(5, 9);
            assert!((5..9).contains(&v));
        }
        assert_eq!(rng.digits(26).len(), 26);
    }
}
