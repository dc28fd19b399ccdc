//! Rate-limit window math and override matching (reference §9.1, §9.5).
//!
//! Windows are fixed cells aligned to the Unix epoch; a request is judged against the count of the
//! current cell plus the previous cell weighted by the part of it still inside a sliding window of
//! one duration. The limiter (in `keyway-limits`) only stores counts; every decision is made here.

use crate::time::UnixMs;

/// The sequence number of the fixed window that contains `now`: `floor(now / duration)`.
///
/// `duration` is in milliseconds and must be ≥ 1 (the API accepts ≥ 1000); anything smaller is
/// treated as 1 ms so a caller's bug degrades into a very short window instead of a panic on the hot
/// path.
pub fn window(now: UnixMs, duration: i64) -> i64 {
    now.div_euclid(duration.max(1))
}

/// Unix ms of the end of the window that contains `now`: the API's `reset`.
pub fn reset_at(now: UnixMs, duration: i64) -> UnixMs {
    let duration = duration.max(1);
    now.saturating_add(duration - now.rem_euclid(duration))
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub passed: bool,
    pub remaining: i64,
    /// Unix ms of the end of the current window.
    pub reset: UnixMs,
}

/// Judges a request of `cost` at `now` against `limit` per `duration`, given the counts already
/// admitted in the current window (`current`) and in the one before it (`previous`).
///
/// `effective = current + floor(previous × (1 − elapsed)) + cost`, where `elapsed` is the fraction
/// of the current window already gone; the request is denied iff `effective > limit`. The weighting
/// is done in exact integer arithmetic: Unkey computes it in `float64`, which can round a product
/// such as `0.29 × 100` down by one; the formula is the same, only the rounding error is gone.
///
/// A `limit` of 0 (or less) always denies: Unkey answers an override with limit 0 with a 500, a bug
/// Keyway does not copy (DESIGN.md, rule 2). A `cost` of 0 checks without consuming, so it passes
/// at exactly the limit with `remaining` 0.
///
/// No input can overflow the arithmetic: the sum is taken in `i128`, where three `i64` always fit,
/// so counts, costs and limits up to `i64::MAX` are judged exactly. (Saturating at `i64::MAX`
/// would make a full window look exactly full, `≤ limit`, for a limit of `i64::MAX`, and admit
/// every further request.) Negative counts or costs, which no caller produces, count as 0.
pub fn decide(limit: i64, current: i64, previous: i64, now: UnixMs, duration: i64, cost: i64) -> Decision {
    let duration = duration.max(1);
    // What is left of the window is computed from `now mod duration`, never from window ×
    // duration, which can overflow for extreme `now`.
    let elapsed = now.rem_euclid(duration);
    let left = duration - elapsed;
    let reset = now.saturating_add(left);
    // previous × (duration − elapsed ms) / duration, floored. The product fits i64 unless counts
    // are huge on month-long windows; only then is the slower i128 division needed.
    let previous = previous.max(0);
    let weighted = match previous.checked_mul(left) {
        Some(product) => product / duration,
        None => (i128::from(previous) * i128::from(left) / i128::from(duration)) as i64,
    };
    let effective = i128::from(current.max(0)) + i128::from(weighted) + i128::from(cost.max(0));
    if limit <= 0 || effective > i128::from(limit) {
        Decision { passed: false, remaining: 0, reset }
    } else {
        // effective ≤ limit, so the difference is within 0..=limit.
        Decision { passed: true, remaining: (i128::from(limit) - effective) as i64, reset }
    }
}

/// Whether an override `pattern` matches `identifier`: `*` stands for any sequence of characters
/// (possibly empty), the match is anchored at both ends, and every other character is literal.
pub fn pattern_matches(pattern: &str, identifier: &str) -> bool {
    // Byte-wise is exact for UTF-8: `*` is ASCII, so every literal run of the pattern is itself
    // valid UTF-8 and can only match the identifier at a character boundary.
    let (p, s) = (pattern.as_bytes(), identifier.as_bytes());
    let (mut pi, mut si) = (0, 0);
    // Where to resume after the last `*`: the pattern index after it and the identifier index it
    // has swallowed up to. Greedy matching with a single backtrack point is enough for `*`-only
    // patterns and keeps the match O(|pattern| × |identifier|) in the worst case.
    let mut resume: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            resume = Some((pi + 1, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((after_star, swallowed)) = resume {
            pi = after_star;
            si = swallowed + 1;
            resume = Some((after_star, swallowed + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// The override that applies to `identifier` (reference §9.5): the one whose pattern equals the
/// identifier; otherwise, among the wildcard patterns that match it, the most specific — the
/// longest literal part (characters other than `*`) — with ties going to the lexicographically
/// smallest pattern. Unkey leaves the choice among several matching wildcards unspecified; Keyway
/// makes it deterministic and independent of the order of `candidates`.
pub fn best_override<'a, T>(candidates: &'a [T], identifier: &str, pattern: impl Fn(&T) -> &str) -> Option<&'a T> {
    if let Some(exact) = candidates.iter().find(|c| pattern(c) == identifier) {
        return Some(exact);
    }
    candidates
        .iter()
        .map(|c| (c, pattern(c)))
        .filter(|(_, p)| p.contains('*') && pattern_matches(p, identifier))
        .min_by(|(_, a), (_, b)| literal_len(b).cmp(&literal_len(a)).then_with(|| a.cmp(b)))
        .map(|(c, _)| c)
}

fn literal_len(pattern: &str) -> usize {
    pattern.chars().filter(|&c| c != '*').count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    const MINUTE: i64 = 60_000;

    #[test]
    fn windows_are_epoch_aligned() {
        assert_eq!(window(0, MINUTE), 0);
        assert_eq!(window(MINUTE - 1, MINUTE), 0);
        assert_eq!(window(MINUTE, MINUTE), 1);
        assert_eq!(reset_at(1_700_000_012_345, MINUTE), 1_700_000_040_000);
        assert_eq!(reset_at(1_700_000_040_000, MINUTE), 1_700_000_100_000);
    }

    #[test]
    fn denies_past_the_limit_and_reports_remaining() {
        let now = 10 * MINUTE;
        assert_eq!(decide(3, 0, 0, now, MINUTE, 1), Decision { passed: true, remaining: 2, reset: 11 * MINUTE });
        assert_eq!(decide(3, 2, 0, now, MINUTE, 1).remaining, 0);
        assert!(!decide(3, 3, 0, now, MINUTE, 1).passed);
        assert_eq!(decide(3, 3, 0, now, MINUTE, 1).remaining, 0);
        assert!(!decide(3, 0, 0, now, MINUTE, 4).passed);
    }

    #[test]
    fn previous_window_is_weighted_by_what_remains_of_it() {
        // A quarter into the window: 3/4 of the previous 100 still counts.
        let now = 10 * MINUTE + MINUTE / 4;
        assert!(!decide(100, 25, 100, now, MINUTE, 1).passed);
        assert_eq!(decide(100, 24, 100, now, MINUTE, 1), Decision { passed: true, remaining: 0, reset: 11 * MINUTE });
        assert_eq!(decide(100, 0, 100, now, MINUTE, 0).remaining, 25);
        assert_eq!(decide(100, 20, 100, now, MINUTE, 1).remaining, 100 - 20 - 75 - 1);
        // At the start of a window the whole previous count weighs in; the floor rounds down.
        assert_eq!(decide(100, 0, 100, 10 * MINUTE, MINUTE, 0).remaining, 0);
        assert_eq!(decide(100, 0, 3, 10 * MINUTE + MINUTE / 2, MINUTE, 0).remaining, 99);
        // Exact arithmetic where float64 would give 28.999…: 29 of 100 remain weighted.
        assert_eq!(decide(1000, 0, 100, 71, 100, 0).remaining, 1000 - 29);
        // Counts too large for previous × duration in i64 still weigh exactly.
        let month = 2_592_000_000;
        assert_eq!(decide(i64::MAX, 0, i64::MAX / 2, month / 2, month, 0).remaining, i64::MAX - i64::MAX / 4);
    }

    #[test]
    fn limit_zero_always_denies_and_cost_zero_checks_without_consuming() {
        assert!(!decide(0, 0, 0, 0, MINUTE, 0).passed);
        assert!(!decide(0, 0, 0, 0, MINUTE, 1).passed);
        assert_eq!(decide(5, 5, 0, 0, MINUTE, 0), Decision { passed: true, remaining: 0, reset: MINUTE });
        assert!(!decide(5, 6, 0, 0, MINUTE, 0).passed);
    }

    #[test]
    fn a_window_full_at_i64_max_stays_full() {
        // The reproduction: limit and cost at i64::MAX, then the same call, then cost 1.
        let now = 10 * MINUTE;
        assert_eq!(
            decide(i64::MAX, 0, 0, now, MINUTE, i64::MAX),
            Decision { passed: true, remaining: 0, reset: 11 * MINUTE }
        );
        assert!(!decide(i64::MAX, i64::MAX, 0, now, MINUTE, i64::MAX).passed);
        assert!(!decide(i64::MAX, i64::MAX, 0, now, MINUTE, 1).passed);
        assert!(decide(i64::MAX, i64::MAX, 0, now, MINUTE, 0).passed, "cost 0 at exactly the limit checks");
        // A full previous window weighs in without overflowing either.
        assert!(!decide(i64::MAX, 1, i64::MAX, now, MINUTE, 1).passed);
        assert!(!decide(i64::MAX, i64::MAX, i64::MAX, now, i64::MAX, i64::MAX).passed);
    }

    #[test]
    fn extreme_clocks_and_durations_do_not_overflow() {
        for now in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MAX] {
            for duration in [i64::MIN, 0, 1, 3, 2_592_000_000, i64::MAX] {
                let d = decide(5, 0, 0, now, duration, 1);
                assert!(d.passed && d.remaining == 4);
                assert_eq!(d.reset, reset_at(now, duration));
                assert!(d.reset >= now);
                window(now, duration);
            }
        }
        assert_eq!(reset_at(i64::MAX - 5, MINUTE), i64::MAX);
    }

    #[test]
    fn patterns() {
        assert!(pattern_matches("*@acme.com", "alice@acme.com"));
        assert!(pattern_matches("*@acme.com", "@acme.com"));
        assert!(!pattern_matches("*@acme.com", "alice@acme.com.evil"));
        assert!(pattern_matches("user_*_free", "user_42_free"));
        assert!(pattern_matches("*", ""));
        assert!(pattern_matches("a**b", "ab"));
        assert!(!pattern_matches("a.c", "abc"), "regex metacharacters are literal");
        assert!(pattern_matches("é*ü", "éaü"));
        assert!(!pattern_matches("", "a"));
    }

    #[test]
    fn overrides_prefer_exact_then_most_specific() {
        let all = ["*", "*@acme.com", "alice@*", "alice@acme.com", "*.com"];
        let pick = |list: &[&'static str], id: &str| best_override(list, id, |p| p).copied();
        assert_eq!(pick(&all, "alice@acme.com"), Some("alice@acme.com"));
        // "*@acme.com" and "alice@*" tie on 9 literal characters: the smaller string wins.
        assert_eq!(pick(&all[..3], "alice@acme.com"), Some("*@acme.com"));
        assert_eq!(pick(&all, "bob@acme.com"), Some("*@acme.com"));
        assert_eq!(pick(&all, "bob@x.com"), Some("*.com"));
        assert_eq!(pick(&all, "bob"), Some("*"));
        assert_eq!(pick(&all[1..], "bob"), None);
        // A pattern is taken literally for the exact step, even when it contains `*`.
        assert_eq!(pick(&["a*", "a*b"], "a*b"), Some("a*b"));
    }

    /// Counts, costs and limits: small values, values near `i64::MAX`, and anything in between.
    fn extreme() -> impl Strategy<Value = i64> {
        prop_oneof![
            0i64..10,
            Just(i64::MAX),
            Just(i64::MAX - 1),
            Just(i64::MAX / 2),
            (i64::MAX - 10)..=i64::MAX,
            0i64..=i64::MAX
        ]
    }

    /// Anchored `*` matching by plain recursion, as obviously correct as possible.
    fn naive_matches(p: &[char], s: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('*', rest)) => naive_matches(rest, s) || (!s.is_empty() && naive_matches(p, &s[1..])),
            Some((c, rest)) => s.first() == Some(c) && naive_matches(rest, &s[1..]),
        }
    }

    proptest! {
        #[test]
        fn pattern_matching_agrees_with_a_naive_reference(pattern in "[ab*é]{0,8}", identifier in "[abé*]{0,12}") {
            let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), identifier.chars().collect());
            prop_assert_eq!(pattern_matches(&pattern, &identifier), naive_matches(&p, &s));
        }

        #[test]
        fn a_pattern_matches_itself_with_stars_removed_or_filled(pattern in "[a-c*]{0,10}", fill in "[a-c]{0,4}") {
            prop_assert!(pattern_matches(&pattern, &pattern.replace('*', "")));
            prop_assert!(pattern_matches(&pattern, &pattern.replace('*', &fill)));
        }

        #[test]
        fn best_override_is_exact_else_longest_literal(
            patterns in proptest::collection::vec("[ab*]{0,5}", 0..8),
            identifier in "[ab]{0,6}",
        ) {
            let chosen = best_override(&patterns, &identifier, |p| p.as_str());
            match chosen {
                Some(p) if *p == identifier => {}
                Some(p) => {
                    prop_assert!(!patterns.contains(&identifier));
                    prop_assert!(p.contains('*') && pattern_matches(p, &identifier));
                    for other in patterns.iter().filter(|o| o.contains('*') && pattern_matches(o, &identifier)) {
                        let key = |q: &String| (std::cmp::Reverse(literal_len(q)), q.clone());
                        prop_assert!(key(p) <= key(other));
                    }
                }
                None => prop_assert!(!patterns.iter().any(|p| *p == identifier || pattern_matches(p, &identifier))),
            }
            // The answer never depends on the order the overrides come in.
            let mut reversed = patterns.clone();
            reversed.reverse();
            prop_assert_eq!(best_override(&reversed, &identifier, |p| p.as_str()), chosen);
        }

        #[test]
        fn reset_is_the_end_of_the_current_window(now in 0i64..5_000_000_000_000, duration in 1i64..2_592_000_000) {
            let reset = reset_at(now, duration);
            prop_assert!(reset > now && reset - duration <= now);
            prop_assert_eq!(reset % duration, 0);
            prop_assert_eq!(decide(10, 0, 0, now, duration, 1).reset, reset);
        }

        /// Exact for every input up to the extremes: the decision is the one the formula gives in
        /// unbounded integers.
        #[test]
        fn decisions_are_exact_up_to_i64_max(
            limit in extreme(),
            current in extreme(),
            previous in extreme(),
            cost in extreme(),
            now in prop_oneof![Just(0i64), Just(i64::MAX), 0i64..5_000_000_000_000],
            duration in prop_oneof![Just(1i64), Just(1_000i64), Just(2_592_000_000i64), Just(i64::MAX), 1i64..=2_592_000_000],
        ) {
            let d = decide(limit, current, previous, now, duration, cost);
            let left = i128::from(duration - now.rem_euclid(duration));
            let effective = i128::from(current) + i128::from(previous) * left / i128::from(duration) + i128::from(cost);
            prop_assert_eq!(d.passed, limit > 0 && effective <= i128::from(limit));
            let remaining = if d.passed { i128::from(limit) - effective } else { 0 };
            prop_assert_eq!(i128::from(d.remaining), remaining);
            prop_assert_eq!(d.reset, reset_at(now, duration));
        }

        /// The attack on a serial run: whatever the costs, up to i64::MAX each, a window
        /// never admits more than its limit, and once a call is denied a repeat of it is too.
        #[test]
        fn extreme_costs_never_overfill_a_window(
            limit in extreme(),
            costs in proptest::collection::vec(extreme(), 1..20),
        ) {
            let now = 10 * MINUTE;
            let mut admitted: i64 = 0;
            for cost in costs {
                let d = decide(limit, admitted, 0, now, MINUTE, cost);
                if d.passed {
                    admitted = admitted.checked_add(cost).expect("an admitted cost fits under the limit");
                    prop_assert!(admitted <= limit);
                } else {
                    prop_assert!(!decide(limit, admitted, 0, now, MINUTE, cost).passed);
                }
            }
        }

        /// A serial run, as the limiter performs it: per-window counts, the previous window carried
        /// in. No fixed window ever admits more than `limit` cost, and a denial never consumes.
        #[test]
        fn no_window_admits_more_than_the_limit(
            limit in 0i64..50,
            duration in 1i64..10_000,
            start in 0i64..1_000_000_000,
            steps in proptest::collection::vec((0i64..3_000, 0i64..8), 1..300),
        ) {
            let mut counts: HashMap<i64, i64> = HashMap::new();
            let mut now = start;
            for (advance, cost) in steps {
                now += advance;
                let seq = window(now, duration);
                let current = counts.get(&seq).copied().unwrap_or(0);
                let previous = counts.get(&(seq - 1)).copied().unwrap_or(0);
                let d = decide(limit, current, previous, now, duration, cost);
                prop_assert!(d.remaining >= 0 && d.remaining <= limit.max(0));
                if d.passed {
                    prop_assert!(limit > 0);
                    prop_assert_eq!(d.remaining, limit - current - previous * (duration - (now - seq * duration)) / duration - cost);
                    *counts.entry(seq).or_insert(0) += cost;
                } else {
                    prop_assert_eq!(d.remaining, 0);
                }
            }
            for (seq, admitted) in counts {
                prop_assert!(admitted <= limit, "window {} admitted {} > {}", seq, admitted, limit);
            }
        }
    }
}
