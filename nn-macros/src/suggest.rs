//! "Did you mean" suggestions by edit distance.

/// The candidate closest to `word` (case-insensitive match first, then Levenshtein distance at
/// most a third of the word's length, at least 1), if any.
pub fn closest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str> + Clone,
) -> Option<&'a str> {
    let lower = word.to_lowercase();
    if let Some(c) = candidates.clone().find(|c| c.to_lowercase() == lower) {
        return Some(c);
    }
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .map(|c| (distance(&lower, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn suggests_close_names() {
        let names = ["Dense", "ReLU", "Softmax", "LeakyReLU"];
        assert_eq!(closest("Relu", names.iter().copied()), Some("ReLU"));
        assert_eq!(closest("Dens", names.iter().copied()), Some("Dense"));
        assert_eq!(closest("Convolution", names.iter().copied()), None);
    }
}
