//! Where configured paths may point: local plain files inside the pipeline's roots, no larger
//! than `max_input_mib`.

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::{Validator, span};
use crate::config::raw::S;
use crate::config::{Problem, resolve_path};

impl Validator<'_> {
    /// The folders paths may resolve into: `[pipeline] roots` (relative to the pipeline file),
    /// or by default the pipeline file's folder and its parent.
    pub(super) fn roots(&mut self, configured: Option<&S<Vec<S<String>>>>) {
        let base = self
            .config_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let base = if base.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base
        };
        let wanted: Vec<(PathBuf, Option<Range<usize>>)> = match configured {
            Some(list) => list
                .get_ref()
                .iter()
                .map(|r| (base.join(r.get_ref()), Some(span(r))))
                .collect(),
            None => vec![(base.join("."), None), (base.join(".."), None)],
        };
        for (dir, sp) in wanted {
            match dir.canonicalize() {
                Ok(c) => self.roots.push(c),
                Err(e) => {
                    if let Some(sp) = sp {
                        self.push(Problem::new(sp, format!("root {}: {e}", dir.display())));
                    }
                }
            }
        }
    }

    /// Resolves a config path; `must_exist` for inputs. GDAL virtual paths are refused: a
    /// nightly job reads local files only.
    pub(super) fn path(&mut self, s: &S<String>, must_exist: bool) -> Option<PathBuf> {
        let raw = s.get_ref();
        if raw.starts_with("/vsi") || raw.contains("://") {
            self.push(
                Problem::new(span(s), format!("`{raw}` is a virtual or network path"))
                    .help("smartgap reads local files only; download or unpack the file first"),
            );
            return None;
        }
        let lower = raw.to_ascii_lowercase();
        if raw == "-"
            || [".zip", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz"]
                .iter()
                .any(|e| lower.ends_with(e))
        {
            self.push(
                Problem::new(span(s), format!("`{raw}` is standard input or an archive"))
                    .help("smartgap reads plain local files only (no archive can expand without bound); unpack it first"),
            );
            return None;
        }
        if raw.contains('\0') {
            self.push(Problem::new(span(s), "the path contains a NUL character"));
            return None;
        }
        let p = resolve_path(&self.config_path, raw);
        if !self.roots.is_empty() {
            let real = real_path(&p);
            if !self.roots.iter().any(|r| real.starts_with(r)) {
                let roots: Vec<String> =
                    self.roots.iter().map(|r| r.display().to_string()).collect();
                self.push(
                    Problem::new(
                        span(s),
                        format!(
                            "`{raw}` resolves to {}, outside the folders this pipeline may use ({})",
                            real.display(),
                            roots.join(", ")
                        ),
                    )
                    .help("paths may reach only the pipeline file's folder and its parent (symbolic links followed); list other folders in [pipeline] roots"),
                );
                return None;
            }
        }
        if must_exist && !p.exists() {
            self.push(
                Problem::new(span(s), format!("file not found: {}", p.display()))
                    .help("paths are relative to the pipeline file's directory"),
            );
            return None;
        }
        if must_exist && p.is_dir() && !p.extension().is_some_and(|e| e.eq_ignore_ascii_case("gdb"))
        {
            self.push(
                Problem::new(span(s), format!("{} is a folder, not a file", p.display()))
                    .help("name the data file itself (a FileGDB `.gdb` folder is the one folder format read)"),
            );
            return None;
        }
        if must_exist {
            let mut files = vec![p.clone()];
            if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("shp")) {
                files.push(p.with_extension("dbf"));
            }
            for f in files {
                let mib = std::fs::metadata(&f).map_or(0, |m| m.len()) / (1024 * 1024);
                if mib > self.max_input_mib {
                    self.push(
                        Problem::new(span(s), format!("{} is {mib} MiB, above max_input_mib {}", f.display(), self.max_input_mib))
                            .help("raise [pipeline] max_input_mib if the file is expected to be this large"),
                    );
                    return None;
                }
            }
        }
        Some(p)
    }
}

/// Where `p` really is: symbolic links and `..` resolved. A path that does not exist yet (an
/// output folder) is resolved through its nearest existing ancestor.
fn real_path(p: &Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    let mut rest = Vec::new();
    let mut cur = p.to_path_buf();
    loop {
        match cur.file_name() {
            Some(name) => rest.push(name.to_os_string()),
            None => return p.to_path_buf(),
        }
        if !cur.pop() {
            return p.to_path_buf();
        }
        let base = if cur.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            cur.clone()
        };
        if let Ok(c) = base.canonicalize() {
            let mut out = c;
            for n in rest.iter().rev() {
                if n == ".." {
                    out.pop();
                } else if n != "." {
                    out.push(n);
                }
            }
            return out;
        }
    }
}
