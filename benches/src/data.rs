//! The benchmark's data: deterministic keys of 16 to 24 bytes and values of 73 bytes.

/// SplitMix64: a fixed, fully specified generator, so every run uses the same data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

pub fn key(rng: &mut Rng) -> Vec<u8> {
    let r = rng.next_u64();
    // "acct/" plus 11 to 19 hex digits: 16 to 24 bytes.
    let width = 11 + (r % 9) as usize;
    let digits = format!("{:019x}", rng.next_u64() as u128 * 7 + 3);
    format!("acct/{}", &digits[digits.len() - width..]).into_bytes()
}

pub fn value(rng: &mut Rng) -> Vec<u8> {
    (0..73).map(|_| rng.next_u64() as u8).collect()
}

pub struct Dataset {
    pub sorted: Vec<(Vec<u8>, Vec<u8>)>,
    /// New keys, inserted one at a time.
    pub singles: Vec<(Vec<u8>, Vec<u8>)>,
    /// Existing keys with new values, one at a time: the bytes-rewritten measure.
    pub updates: Vec<(Vec<u8>, Vec<u8>)>,
    /// New keys in batches of 1,000 (three rounds of ten).
    pub batches: Vec<Vec<(Vec<u8>, Vec<u8>)>>,
    /// Existing keys, in random order.
    pub probes: Vec<Vec<u8>>,
}

impl Dataset {
    pub fn new(n: usize) -> Self {
        let mut rng = Rng::new(n as u64);
        let mut map = std::collections::BTreeMap::new();
        while map.len() < n {
            let k = key(&mut rng);
            let v = value(&mut rng);
            map.insert(k, v);
        }
        let mut fresh = |count: usize, rng: &mut Rng| -> Vec<(Vec<u8>, Vec<u8>)> {
            let mut out = Vec::with_capacity(count);
            while out.len() < count {
                let k = key(rng);
                if !map.contains_key(&k) {
                    map.insert(k.clone(), Vec::new());
                    out.push((k, value(rng)));
                }
            }
            out
        };
        let singles = fresh(600, &mut rng);
        let batches = (0..30).map(|_| fresh(1000, &mut rng)).collect();
        for (k, _) in &singles {
            map.remove(k);
        }
        let sorted: Vec<_> = map.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        let probes: Vec<Vec<u8>> = (0..2000)
            .map(|_| {
                sorted[(rng.next_u64() % sorted.len() as u64) as usize]
                    .0
                    .clone()
            })
            .collect();
        let updates = probes[..200]
            .iter()
            .map(|k| (k.clone(), value(&mut rng)))
            .collect();
        Dataset {
            sorted,
            singles,
            updates,
            batches,
            probes,
        }
    }
}
