//! Compile-time guarantees: every case in `ui/*/fail` must fail to compile
//! with exactly the reviewed message in its `.stderr`; every case in
//! `ui/*/pass` must compile and run.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/*/pass/*.rs");
    cases.compile_fail("ui/*/fail/*.rs");
}
