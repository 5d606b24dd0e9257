//! A student's own order of a contest's questions and of a question's options, derived from the
//! ids alone (API.md, "Shuffling"): the same on every read, after every restart and on every
//! node, and never stored. Each item gets a rank from a fixed mixing function of (contest,
//! question, student[, option]) — not `std`'s hasher, whose algorithm may change between
//! releases — and the items are sorted by rank. The student view (`view.rs`) uses both.

use crate::model::Id;

/// SplitMix64's finaliser: a fixed bijection of `u64` whose outputs look independent.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Domain separation: question ranks and option ranks of the same ids differ.
const QUESTIONS: u64 = 0x7175_6573_7469_6f6e;
const OPTIONS: u64 = 0x6f70_7469_6f6e_7321;

fn rank(parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(0x636f_6e74_6573_7464, |h, &p| mix(h ^ mix(p)))
}

/// Indexes into `question_ids` in the student's order.
pub fn question_order(contest: Id, student: Id, question_ids: &[Id]) -> Vec<usize> {
    sorted_by_rank(question_ids.len(), |i| {
        rank(&[
            QUESTIONS,
            contest as u64,
            student as u64,
            question_ids[i] as u64,
        ])
    })
}

/// Indexes into a question's `options` (there are `count`) in the student's order.
pub fn option_order(contest: Id, question: Id, student: Id, count: usize) -> Vec<usize> {
    sorted_by_rank(count, |i| {
        rank(&[
            OPTIONS,
            contest as u64,
            question as u64,
            student as u64,
            i as u64,
        ])
    })
}

/// `0..count` sorted by `rank_of`, ties (never seen, but possible) by index.
fn sorted_by_rank(count: usize, rank_of: impl Fn(usize) -> u64) -> Vec<usize> {
    let mut ranked: Vec<(u64, usize)> = (0..count).map(|i| (rank_of(i), i)).collect();
    ranked.sort_unstable();
    ranked.into_iter().map(|(_, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn is_permutation(order: &[usize], count: usize) -> bool {
        let mut seen = vec![false; count];
        order.len() == count
            && order
                .iter()
                .all(|&i| i < count && !std::mem::replace(&mut seen[i], true))
    }

    proptest! {
        #[test]
        fn question_orders_are_permutations_and_deterministic(
            contest in 1i64..1_000_000,
            student in 1i64..10_000_000,
            ids in proptest::collection::hash_set(1i64..1_000_000_000, 0..60),
        ) {
            let ids: Vec<Id> = ids.into_iter().collect();
            let order = question_order(contest, student, &ids);
            prop_assert!(is_permutation(&order, ids.len()));
            prop_assert_eq!(&order, &question_order(contest, student, &ids));
        }

        #[test]
        fn option_orders_are_permutations_and_deterministic(
            contest in 1i64..1_000_000,
            question in 1i64..1_000_000_000,
            student in 1i64..10_000_000,
            count in 0usize..=10,
        ) {
            let order = option_order(contest, question, student, count);
            prop_assert!(is_permutation(&order, count));
            prop_assert_eq!(&order, &option_order(contest, question, student, count));
        }
    }

    /// Over many students each question lands in each position about equally often: 20,000
    /// students, 5 questions, 4,000 expected per (question, position); the bound is ±10%,
    /// about seven standard deviations, and the students are fixed, so the test is exact.
    #[test]
    fn every_position_is_about_equally_likely() {
        let ids = [11, 12, 13, 14, 15];
        let mut counts = [[0u32; 5]; 5];
        for student in 1..=20_000 {
            for (position, &question) in question_order(42, student, &ids).iter().enumerate() {
                counts[question][position] += 1;
            }
        }
        for (question, row) in counts.iter().enumerate() {
            for (position, &n) in row.iter().enumerate() {
                assert!(
                    (3600..=4400).contains(&n),
                    "question {question} at position {position}: {n} of 20,000"
                );
            }
        }
        let mut options = [[0u32; 4]; 4];
        for student in 1..=20_000 {
            for (position, &option) in option_order(42, 7, student, 4).iter().enumerate() {
                options[option][position] += 1;
            }
        }
        for row in options {
            assert!(row.iter().all(|&n| (4500..=5500).contains(&n)), "{row:?}");
        }
    }

    #[test]
    fn students_and_contests_get_different_orders() {
        let ids: Vec<Id> = (1..=20).collect();
        let a = question_order(1, 100, &ids);
        assert_ne!(a, question_order(1, 101, &ids), "another student");
        assert_ne!(a, question_order(2, 100, &ids), "another contest");
        // The order is a property of the ids: it does not depend on where they are listed.
        let reversed: Vec<Id> = ids.iter().rev().copied().collect();
        let by_id =
            |order: Vec<usize>, list: &[Id]| order.into_iter().map(|i| list[i]).collect::<Vec<_>>();
        assert_eq!(
            by_id(a, &ids),
            by_id(question_order(1, 100, &reversed), &reversed)
        );
    }
}
