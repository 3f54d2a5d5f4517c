//! Manifest rules: every dependency comes from the workspace table, every crate
//! inherits the workspace lints, every package its metadata.

use crate::cmd::root;

pub(crate) fn run() -> Result<(), String> {
    let mut problems = Vec::new();
    let mut manifests = vec![root().join("xtask/Cargo.toml"), root().join("tests/Cargo.toml")];
    let crates = std::fs::read_dir(root().join("crates")).map_err(|e| format!("cannot list crates/: {e}"))?;
    for entry in crates.flatten() {
        manifests.push(entry.path().join("Cargo.toml"));
    }
    manifests.sort();
    for path in &manifests {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let shown = path.strip_prefix(root()).unwrap_or(path).display().to_string();
        problems.extend(check_manifest(&text).into_iter().map(|p| format!("{shown}: {p}")));
    }
    if problems.is_empty() {
        eprintln!("xtask: tidy: {} manifests ok", manifests.len());
        Ok(())
    } else {
        Err(format!("tidy found {} problem(s):\n  {}", problems.len(), problems.join("\n  ")))
    }
}

/// The problems in one member manifest.
fn check_manifest(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut section = String::new();
    let mut has_lints = false;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.starts_with('[') {
            section = line.trim_matches(|c| c == '[' || c == ']').to_string();
            continue;
        }
        if section == "lints" && line.replace(' ', "") == "workspace=true" {
            has_lints = true;
        }
        let is_dep_section = section.ends_with("dependencies");
        if !is_dep_section || line.is_empty() {
            continue;
        }
        let Some((name, spec)) = line.split_once('=') else { continue };
        let (name, spec) = (name.trim(), spec.replace(' ', ""));
        let from_workspace = name.ends_with(".workspace") || spec.contains("workspace=true");
        // A crate may depend on itself (path = ".") to enable its own test features.
        let self_dev_dep = section == "dev-dependencies" && spec.contains("path=\".\"");
        if !from_workspace && !self_dev_dep {
            problems.push(format!("line {}: `{name}` does not come from [workspace.dependencies]", n + 1));
        }
    }
    if !has_lints {
        problems.push("missing `[lints] workspace = true`".into());
    }
    for key in ["edition.workspace", "version.workspace", "license.workspace"] {
        if !text.lines().any(|l| l.replace(' ', "").starts_with(&format!("{key}=true"))) {
            problems.push(format!("missing `{key} = true`"));
        }
    }
    problems
}

/// Feature names declared in a manifest's `[features]` table.
pub(crate) fn feature_names(text: &str) -> Vec<String> {
    let mut in_features = false;
    let mut names = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_features = line == "[features]";
        } else if in_features
            && !line.starts_with('#')
            && let Some((name, _)) = line.split_once('=')
        {
            names.push(name.trim().to_string());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_direct_dependencies_and_missing_lints() {
        let good = "[package]\nedition.workspace = true\nversion.workspace = true\nlicense.workspace = true\n\
                    [dependencies]\nserde.workspace = true\nfoo = { workspace = true, features = [\"x\"] }\n\
                    [dev-dependencies]\nme = { path = \".\", features = [\"testkit\"] }\n[lints]\nworkspace = true\n";
        assert!(check_manifest(good).is_empty(), "{:?}", check_manifest(good));
        let bad = "[package]\nedition = \"2024\"\n[dependencies]\nserde = \"1\"\n";
        let problems = check_manifest(bad);
        assert!(problems.iter().any(|p| p.contains("`serde`")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("[lints]")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("edition.workspace")), "{problems:?}");
    }

    #[test]
    fn reads_feature_names() {
        let text = "[features]\ndefault = [\"a\"]\n# note\na = []\nb = [\"dep:x\"]\n[dependencies]\nx = 1\n";
        assert_eq!(feature_names(text), vec!["default", "a", "b"]);
    }
}
