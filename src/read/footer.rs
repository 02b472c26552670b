//! Subtotal and footer rows: the `합계` / `소계` rows and the `※ …` / `주: …` notes that
//! spreadsheets carry between and below their records. They are not records: a row recognised
//! as one is skipped, counted (`skipped_rows`) and named in a note, and its amount reaches
//! neither `input_krw` nor `rejected_krw`.
//!
//! A row is a footer when one of its cells, with every space removed and a trailing
//! parenthesised part dropped (`소계(국비)`), is one of [`LABELS`] or a label the input names in
//! `skip_rows`; or when its first non-empty cell starts with one of [`NOTE_PREFIXES`].

/// Labels of subtotal rows, without spaces (`합 계` is `합계`).
pub const LABELS: [&str; 7] = ["합계", "소계", "계", "총계", "누계", "총합계", "합"];

/// Starts of note rows, without spaces (`주 : …` is `주:…`).
pub const NOTE_PREFIXES: [&str; 6] = ["※", "주:", "주)", "註:", "출처:", "자료:"];

/// How many rows of an input were skipped as footers, and the first few with their label.
#[derive(Debug, Default, Clone)]
pub struct Footers {
    /// Labels the input names in `skip_rows`, spaces removed.
    extra: Vec<String>,
    /// Rows skipped.
    pub count: u64,
    /// The first rows skipped and the text that made them footers.
    first: Vec<(u64, String)>,
}

/// How many skipped rows a note names.
const NAMED: usize = 5;

impl Footers {
    /// The recogniser of an input whose `skip_rows` are `extra`.
    pub fn new(extra: &[String]) -> Footers {
        Footers {
            extra: extra.iter().map(|l| squeeze(l)).collect(),
            ..Footers::default()
        }
    }

    /// The text that makes a row with these cells a footer, if any.
    pub fn label<'a>(&self, cells: impl IntoIterator<Item = &'a str>) -> Option<String> {
        let mut first = true;
        for cell in cells {
            let s = squeeze(cell);
            if s.is_empty() {
                continue;
            }
            if first && NOTE_PREFIXES.iter().any(|p| s.starts_with(p)) {
                return Some(crate::model::clip(cell.trim(), 24));
            }
            first = false;
            let bare = strip_parenthesised(&s);
            if LABELS.contains(&bare) || self.extra.iter().any(|e| *e == bare || *e == s) {
                return Some(cell.trim().to_string());
            }
        }
        None
    }

    /// Counts row `row` as skipped for `label`.
    pub fn skip(&mut self, row: u64, label: String) {
        self.count += 1;
        if self.first.len() < NAMED {
            self.first.push((row, label));
        }
    }

    /// The note for the input's manifest, when rows were skipped.
    pub fn note(&self) -> Option<String> {
        if self.count == 0 {
            return None;
        }
        let named: Vec<String> = self
            .first
            .iter()
            .map(|(r, l)| format!("row {r} `{l}`"))
            .collect();
        Some(format!(
            "{} subtotal/footer row(s) skipped, their amounts not counted: {}{}",
            self.count,
            named.join(", "),
            if self.count > NAMED as u64 {
                ", …"
            } else {
                ""
            }
        ))
    }
}

/// `s` without any whitespace.
fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// `s` without a trailing `(…)` or `[…]` part.
fn strip_parenthesised(s: &str) -> &str {
    for (open, close) in [('(', ')'), ('[', ']'), ('（', '）')] {
        if s.ends_with(close)
            && let Some(i) = s.find(open)
            && i > 0
        {
            return &s[..i];
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtotal_labels_are_found_in_any_cell_with_spaces_and_parentheses() {
        let f = Footers::new(&[]);
        assert_eq!(f.label(["", "합 계", "30500"]), Some("합 계".into()));
        assert_eq!(f.label(["소계(국비)", "1"]), Some("소계(국비)".into()));
        assert_eq!(f.label(["서울특별시", "계", "1"]), Some("계".into()));
        assert_eq!(f.label(["1", "서울특별시", "합계역", "1"]), None);
        assert_eq!(f.label(["계양구"]), None);
    }

    #[test]
    fn a_note_starts_the_row_and_named_labels_are_skipped_too() {
        let f = Footers::new(&["전년도 이월".into()]);
        assert!(f.label([" ※ 단위: 억원", ""]).is_some());
        assert!(f.label(["주 : 2020년 기준"]).is_some());
        assert!(f.label(["1", "※"]).is_none(), "a note starts the row");
        assert_eq!(f.label(["전년도  이월", "5"]), Some("전년도  이월".into()));
    }

    #[test]
    fn the_note_names_the_first_rows() {
        let mut f = Footers::new(&[]);
        assert_eq!(f.note(), None);
        for r in 1..=7 {
            f.skip(r, "합계".into());
        }
        let n = f.note().unwrap();
        assert!(n.starts_with("7 subtotal/footer row(s) skipped"), "{n}");
        assert!(n.contains("row 5 `합계`, …"), "{n}");
    }
}
