//! Compile-fail tests of the derives: each misuse must fail with a message at the user's code.
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test --test ui`, then read it.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/**/*.rs");
}
