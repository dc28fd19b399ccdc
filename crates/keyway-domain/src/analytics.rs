//! The pure parts of analytics storage: the time buckets of the aggregate tables and a latency
//! histogram that merges, so the p75/p99 of an aggregate row stay right as batches are folded in.

use crate::time::UnixMs;
use chrono::{DateTime, Datelike, NaiveDate};
use std::collections::BTreeMap;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The bucket width of an aggregate table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Granularity {
    Minute,
    Hour,
    Day,
    Month,
}

impl Granularity {
    pub const ALL: [Granularity; 4] = [Granularity::Minute, Granularity::Hour, Granularity::Day, Granularity::Month];

    /// The start (UTC, Unix ms) of the bucket holding `time`.
    pub fn bucket_start(self, time: UnixMs) -> UnixMs {
        let floor = |width: i64| time.div_euclid(width) * width;
        match self {
            Granularity::Minute => floor(MINUTE_MS),
            Granularity::Hour => floor(HOUR_MS),
            Granularity::Day => floor(DAY_MS),
            Granularity::Month => {
                let day = DateTime::from_timestamp_millis(floor(DAY_MS)).map(|t| t.date_naive());
                day.and_then(|d| NaiveDate::from_ymd_opt(d.year(), d.month(), 1))
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map_or(floor(DAY_MS), |t| t.and_utc().timestamp_millis())
            }
        }
    }
}

/// The relative error of a quantile read from a [`LatencyHistogram`]: every value in a bucket is
/// within this fraction of the bucket's representative value.
pub const RELATIVE_ERROR: f64 = 0.01;
/// `(1 + α) / (1 - α)`: the ratio of a bucket's upper bound to its lower bound.
const GAMMA: f64 = (1.0 + RELATIVE_ERROR) / (1.0 - RELATIVE_ERROR);
/// Values are clamped into this range (ms) before bucketing, which bounds the index to an `i16`.
const SMALLEST: f64 = 1e-6;
const LARGEST: f64 = 1e9;
const FORMAT: u8 = 1;

/// A log-bucket histogram of latencies (ms): bucket `i` holds values in `(γ^(i-1), γ^i]`, plus one
/// bucket for zero (and anything not positive). Merging adds counts bucket by bucket, so it is
/// associative and commutative, and a quantile of merged histograms is as exact as one built from
/// all the values at once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencyHistogram {
    zeros: u64,
    buckets: BTreeMap<i16, u64>,
    sum: f64,
}

/// Stored histogram bytes that are not a histogram of this format.
#[derive(Debug, thiserror::Error)]
#[error("corrupt latency histogram: {0}")]
pub struct HistogramDecodeError(&'static str);

impl LatencyHistogram {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&mut self, latency: f64) {
        if latency.is_nan() || latency <= 0.0 {
            self.zeros += 1;
            return;
        }
        let clamped = latency.clamp(SMALLEST, LARGEST);
        self.sum += latency.min(LARGEST);
        // Casting is exact here: the clamp bounds the index to about ±2100.
        let index = (clamped.ln() / GAMMA.ln()).ceil() as i16;
        *self.buckets.entry(index).or_insert(0) += 1;
    }

    pub fn merge(&mut self, other: &LatencyHistogram) {
        self.zeros += other.zeros;
        self.sum += other.sum;
        for (&index, &count) in &other.buckets {
            *self.buckets.entry(index).or_insert(0) += count;
        }
    }

    pub fn count(&self) -> u64 {
        self.zeros + self.buckets.values().sum::<u64>()
    }

    /// The mean of the recorded values; 0 when there are none.
    pub fn mean(&self) -> f64 {
        match self.count() {
            0 => 0.0,
            n => self.sum / n as f64,
        }
    }

    /// The nearest-rank `q`-quantile (`q` in 0..=1), within [`RELATIVE_ERROR`] of the exact one;
    /// 0 when empty.
    pub fn quantile(&self, q: f64) -> f64 {
        let n = self.count();
        if n == 0 {
            return 0.0;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        if rank <= self.zeros {
            return 0.0;
        }
        let mut seen = self.zeros;
        for (&index, &count) in &self.buckets {
            seen += count;
            if seen >= rank {
                return 2.0 * GAMMA.powi(i32::from(index)) / (GAMMA + 1.0);
            }
        }
        unreachable!("the ranks of a histogram add up to its count")
    }

    /// Format byte, the sum (f64 LE), the zero count, then `(index i16 LE, count)` per bucket;
    /// counts are LEB128 varints. Typically a few dozen bytes per aggregate row.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.buckets.len() * 4);
        out.push(FORMAT);
        out.extend_from_slice(&self.sum.to_le_bytes());
        write_varint(&mut out, self.zeros);
        write_varint(&mut out, self.buckets.len() as u64);
        for (&index, &count) in &self.buckets {
            out.extend_from_slice(&index.to_le_bytes());
            write_varint(&mut out, count);
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, HistogramDecodeError> {
        let mut input = bytes;
        let format = take(&mut input, 1)?[0];
        if format != FORMAT {
            return Err(HistogramDecodeError("unknown format"));
        }
        let sum = f64::from_le_bytes(take(&mut input, 8)?.try_into().expect("8 bytes"));
        let zeros = read_varint(&mut input)?;
        let len = read_varint(&mut input)?;
        let mut buckets = BTreeMap::new();
        for _ in 0..len {
            let index = i16::from_le_bytes(take(&mut input, 2)?.try_into().expect("2 bytes"));
            buckets.insert(index, read_varint(&mut input)?);
        }
        if !input.is_empty() {
            return Err(HistogramDecodeError("trailing bytes"));
        }
        Ok(LatencyHistogram { zeros, buckets, sum })
    }
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], HistogramDecodeError> {
    if input.len() < n {
        return Err(HistogramDecodeError("truncated"));
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn read_varint(input: &mut &[u8]) -> Result<u64, HistogramDecodeError> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = take(input, 1)?[0];
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(HistogramDecodeError("varint too long"))
}

/// Sorts and dedupes tags, so that the same set in another order is one aggregate row.
pub fn canonical_tags(tags: &[String]) -> Vec<String> {
    let mut sorted = tags.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn histogram(values: &[f64]) -> LatencyHistogram {
        let mut h = LatencyHistogram::new();
        values.iter().for_each(|&v| h.record(v));
        h
    }

    fn exact_quantile(values: &[f64], q: f64) -> f64 {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
        sorted[rank - 1]
    }

    fn latencies() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(prop_oneof![Just(0.0), 0.001f64..5.0, 5.0f64..60_000.0], 1..300)
    }

    proptest! {
        #[test]
        fn merge_is_associative_and_matches_recording_everything(a in latencies(), b in latencies(), c in latencies()) {
            let (ha, hb, hc) = (histogram(&a), histogram(&b), histogram(&c));
            let mut left = ha.clone();
            left.merge(&hb);
            left.merge(&hc);
            let mut bc = hb.clone();
            bc.merge(&hc);
            let mut right = ha.clone();
            right.merge(&bc);
            let all: Vec<f64> = a.iter().chain(&b).chain(&c).copied().collect();
            let whole = histogram(&all);
            for h in [&left, &right] {
                prop_assert_eq!(&h.buckets, &whole.buckets);
                prop_assert_eq!(h.zeros, whole.zeros);
                prop_assert!((h.sum - whole.sum).abs() <= 1e-9 * whole.sum.max(1.0));
            }
        }

        #[test]
        fn quantiles_are_within_the_relative_error(values in latencies(), q in prop_oneof![Just(0.5), Just(0.75), Just(0.99), 0.0f64..=1.0]) {
            let exact = exact_quantile(&values, q);
            let estimate = histogram(&values).quantile(q);
            prop_assert!((estimate - exact).abs() <= RELATIVE_ERROR * exact + 1e-12, "q={q} exact={exact} estimate={estimate}");
        }

        #[test]
        fn bytes_round_trip(values in latencies()) {
            let h = histogram(&values);
            prop_assert_eq!(LatencyHistogram::from_bytes(&h.to_bytes()).unwrap(), h);
        }

        #[test]
        fn buckets_hold_their_time(time in 0i64..4_102_444_800_000) {
            for g in Granularity::ALL {
                let start = g.bucket_start(time);
                prop_assert!(start <= time);
                prop_assert_eq!(g.bucket_start(start), start);
            }
            prop_assert!(time - Granularity::Minute.bucket_start(time) < MINUTE_MS);
        }
    }

    #[test]
    fn mean_and_empty_histogram() {
        assert_eq!(histogram(&[1.0, 2.0, 3.0, 0.0]).mean(), 1.5);
        assert_eq!(LatencyHistogram::new().quantile(0.99), 0.0);
        assert_eq!(LatencyHistogram::new().mean(), 0.0);
    }

    #[test]
    fn month_buckets_start_on_the_first_day_utc() {
        // 2026-03-15T12:34:56Z -> 2026-03-01T00:00:00Z
        assert_eq!(Granularity::Month.bucket_start(1_773_578_096_000), 1_772_323_200_000);
        assert_eq!(Granularity::Day.bucket_start(1_773_578_096_000), 1_773_532_800_000);
        assert_eq!(Granularity::Hour.bucket_start(1_773_578_096_000), 1_773_576_000_000);
    }

    #[test]
    fn tags_are_sorted_and_deduped() {
        let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(canonical_tags(&tags(&["b", "a", "b"])), tags(&["a", "b"]));
    }

    #[test]
    fn corrupt_bytes_are_refused() {
        assert!(LatencyHistogram::from_bytes(&[]).is_err());
        assert!(LatencyHistogram::from_bytes(&[2]).is_err());
        let mut bytes = histogram(&[1.0]).to_bytes();
        bytes.push(0);
        assert!(LatencyHistogram::from_bytes(&bytes).is_err());
    }
}
