//! Failure reports: expected and actual side by side, the first difference marked.

use std::fmt::{Debug, Write};

/// Pretty `Debug` of `value`, one string per line.
pub fn lines<T: Debug + ?Sized>(value: &T) -> Vec<String> {
    format!("{value:#?}").lines().map(str::to_owned).collect()
}

/// A numbered list of events, one pretty `Debug` block each.
pub fn numbered<T: Debug>(events: &[T]) -> Vec<String> {
    if events.is_empty() {
        return vec!["(no events)".to_owned()];
    }
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        for (j, line) in lines(e).into_iter().enumerate() {
            out.push(if j == 0 { format!("{}. {line}", i + 1) } else { format!("   {line}") });
        }
    }
    out
}

/// Two columns, `left` and `right`, with `>` on every line that differs and the first
/// difference called out underneath.
pub fn side_by_side(left_title: &str, left: &[String], right_title: &str, right: &[String]) -> String {
    let width = left.iter().map(|l| l.chars().count()).chain([left_title.len()]).max().unwrap_or(0).min(70);
    let mut out = String::new();
    let _ = writeln!(out, "  {left_title:<width$} | {right_title}");
    let _ = writeln!(out, "  {:-<width$}-+-{:-<20}", "", "");
    let mut first = None;
    for i in 0..left.len().max(right.len()) {
        let (l, r) = (left.get(i).map_or("", String::as_str), right.get(i).map_or("", String::as_str));
        let marker = if l == r { ' ' } else { '>' };
        if l != r && first.is_none() {
            first = Some((i, l, r));
        }
        let _ = writeln!(out, "{marker} {l:<width$} | {r}");
    }
    if let Some((i, l, r)) = first {
        let _ =
            writeln!(out, "first difference at line {}: expected `{}`, got `{}`", i + 1, l.trim(), r.trim());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_the_first_difference() {
        let out = side_by_side("expected", &numbered(&[1, 2]), "actual", &numbered(&[1, 3]));
        assert!(out.contains("> 2. 2"), "{out}");
        assert!(out.contains("first difference at line 2: expected `2. 2`, got `2. 3`"), "{out}");
        assert!(numbered::<u8>(&[])[0].contains("no events"));
    }
}
