//! The README's programs are the repository's: every Rust block marked
//! `<!-- file: PATH -->` appears verbatim in that file, which the test
//! command builds and tests, so the README cannot drift from code that
//! compiles.

use std::path::Path;

/// The blocks marked with a file, as (path, text).
fn marked_blocks(readme: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut rest = readme;
    while let Some(start) = rest.find("<!-- file: ") {
        rest = &rest[start + "<!-- file: ".len()..];
        let Some((path, after)) = rest.split_once(" -->\n```rust\n") else {
            panic!("a `<!-- file: .. -->` marker must be followed by a ```rust block");
        };
        let Some((text, after)) = after.split_once("\n```\n") else {
            panic!("the block for {path} is not closed");
        };
        blocks.push((path.to_owned(), format!("{text}\n")));
        rest = after;
    }
    blocks
}

#[test]
fn the_readme_programs_are_the_repository_examples_verbatim() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("the README");
    let blocks = marked_blocks(&readme);
    let paths: Vec<&str> = blocks.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "secure-api-runtime/examples/first_app.rs",
            "secure-api-runtime/examples/sign_in.rs"
        ]
    );
    for (path, text) in &blocks {
        let source = std::fs::read_to_string(root.join(path)).expect("the marked file");
        assert!(
            source.contains(text.as_str()),
            "the README's block for {path} differs from the file: copy the file's text into it"
        );
    }
    // The first app is shown whole, test included.
    let first_app = std::fs::read_to_string(root.join(paths[0])).expect("the first app");
    assert_eq!(blocks[0].1, first_app);
}
